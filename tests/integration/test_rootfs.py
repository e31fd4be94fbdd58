"""ImageService end to end: resolve from lambkin's own registry or a pull, unpack once, mount, read files."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lambkin import app as composition
from lambkin.config import Settings
from lambkin.images.pull import ImageNotFound, PlatformMismatch
from lambkin.images.service import ImageService
from lambkin.sandbox.overlay import is_mounted, mount_overlay, unmount
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.integration.image_tools import DockerRegistry, busybox_layout, skopeo_copy

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_layout(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def pushed(server: LambkinServer, layout: Path) -> LambkinServer:
    """The lambkin server with busybox:v1 as app:v1 and busybox-arm:v1 as arm:v1 in its own registry."""
    creds = f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"docker://{server.registry}/app:v1", "--dest-creds", creds)
    skopeo_copy(f"oci:{layout}:busybox-arm:v1", f"docker://{server.registry}/arm:v1", "--dest-creds", creds)
    return server


@pytest.fixture
async def images(pushed: LambkinServer) -> AsyncIterator[ImageService]:
    """An ImageService in this process over the running server's data directory, allowed to pull from the
    test's registries on loopback."""
    settings = Settings(data_dir=pushed.data_dir, port=pushed.port, private_registries=("127.0.0.1",))
    app = composition.build(settings)
    try:
        yield app.images
    finally:
        app.close()


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "root"
    target.mkdir()
    yield target
    if is_mounted(target):
        unmount(target)


async def test_an_image_pushed_to_lambkin_resolves_and_mounts(
    images: ImageService, pushed: LambkinServer, root: Path
) -> None:
    resolved = await images.resolve(f"127.0.0.1:{pushed.port}/app:v1")
    lower_dirs = await images.prepare(resolved)

    mount_overlay(lower_dirs, root)

    assert resolved.resolved_uri == f"127.0.0.1:{pushed.port}/app@{resolved.digest}"
    assert resolved.config.entrypoint == ("/bin/sh", "-c")
    assert resolved.config.working_dir == "/etc"
    assert len(lower_dirs) == 2
    assert (root / "etc/hello.txt").read_text() == "hello from busybox\n"
    assert (root / "app/run.sh").read_text() == "echo hi\n"
    assert not (root / "etc/motd").exists()
    assert os.readlink(root / "bin/sh") == "busybox"
    with pytest.raises(OSError, match="Read-only file system"):
        (root / "etc/new").write_text("x")


async def test_images_sharing_a_layer_share_its_directory(
    images: ImageService, pushed: LambkinServer
) -> None:
    app_image = await images.resolve(f"localhost:{pushed.port}/app:v1")
    arm_image = await images.resolve(f"localhost:{pushed.port}/arm:v1", architecture="arm64")
    app = await images.prepare(app_image)
    arm = await images.prepare(arm_image)

    assert app_image.config.diff_ids[0] == arm_image.config.diff_ids[0]
    assert app[-1] == arm[-1] == images.layers.path(app_image.config.diff_ids[0])
    assert set(images.layers.diff_ids()) == {*app_image.config.diff_ids, *arm_image.config.diff_ids}


async def test_an_image_for_another_architecture_is_refused(
    images: ImageService, pushed: LambkinServer
) -> None:
    with pytest.raises(PlatformMismatch, match="built for arm64, not amd64"):
        await images.resolve(f"127.0.0.1:{pushed.port}/arm:v1", architecture="x86_64")


async def test_an_unknown_image_is_not_found(images: ImageService, pushed: LambkinServer) -> None:
    with pytest.raises(ImageNotFound, match="manifest nope is not in app"):
        await images.resolve(f"127.0.0.1:{pushed.port}/app:nope")


async def test_a_remote_image_with_zstd_layers_is_pulled_then_resolves_by_digest_offline(
    images: ImageService, layout: Path, tmp_path: Path, root: Path
) -> None:
    registry = DockerRegistry(tmp_path / "registry").start()
    try:
        skopeo_copy(
            f"oci:{layout}:busybox:v1",
            f"docker://{registry.address}/remote/zstd:v1",
            "--format",
            "oci",
            "--dest-compress-format",
            "zstd",
        )
        resolved = await images.resolve(f"{registry.address}/remote/zstd:v1")
    finally:
        registry.stop()
    pinned = await images.resolve(f"{registry.address}/remote/zstd@{resolved.digest}")  # registry gone
    lower_dirs = await images.prepare(pinned)

    mount_overlay(lower_dirs, root)

    assert {layer.media_type for layer in resolved.layers} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    assert resolved.resolved_uri == f"{registry.address}/remote/zstd@{resolved.digest}"
    assert (root / "etc/hello.txt").read_text() == "hello from busybox\n"
    assert not (root / "etc/motd").exists()
