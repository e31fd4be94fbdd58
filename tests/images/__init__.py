"""Test images for lambkin, built once with debootstrap and buildah and cached: the API tests and benches use.

    from tests.images import image_path, push, rootfs_dir
    archive = image_path("python-echo")             # .cache/images/archives/python-echo.tar (oci-archive)
    uri = push("python-echo", server.registry, (key_id, secret), tag="v1")   # "127.0.0.1:PORT/python-echo:v1"
    root = rootfs_dir("python-echo")                # a plain directory with the whole root filesystem

Images (see specs.py): python-echo, python-handlers (PYTHON_HANDLERS), python-echo-rie (the emulator as
entrypoint), shell-runtime and busybox (shell custom runtimes, SHELL_HANDLERS). `python -m tests.images build`
builds them all; the `test_images` fixture in tests/conftest.py does the same for a test session.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.images import build as _build
from tests.images import cache
from tests.images.specs import IMAGES, PYTHON_HANDLERS, SHELL_HANDLERS, ImageSpec

__all__ = [
    "IMAGES",
    "PYTHON_HANDLERS",
    "SHELL_HANDLERS",
    "BuiltImages",
    "ImageSpec",
    "build_all",
    "docker_archive_path",
    "image_digest",
    "image_path",
    "layout_ref",
    "push",
    "rie_path",
    "rootfs_dir",
]


def build_all() -> dict[str, Path]:
    """Builds every image that is missing or stale; returns name -> oci-archive path."""
    return _build.build()


def image_path(name: str) -> Path:
    """The image's oci-archive (building it first if needed): for `skopeo copy oci-archive:PATH ...` or imports."""
    return _build.build([name])[name]


def docker_archive_path(name: str) -> Path:
    """The image as a `docker save` archive (docker-archive, tagged NAME:latest), made on first use."""
    return _build.docker_archive(name)


def layout_ref(name: str) -> str:
    """The image in the shared OCI layout, as a containers-transport reference: `oci:DIR:NAME`."""
    image_path(name)
    return f"oci:{cache.LAYOUT}:{name}"


def image_digest(name: str) -> str:
    """The image's manifest digest (sha256:...); a registry it is pushed to serves the same one."""
    image_path(name)
    return _build.layout_digest(name)


def rootfs_dir(name: str) -> Path:
    """A plain directory holding the image's whole root filesystem. Read-only: the base is hard-linked."""
    return _build.assemble_rootfs(name)


def rie_path() -> Path:
    """The AWS Runtime Interface Emulator binary (x86_64), extracted from the aws-sam-cli wheel."""
    return _build.ensure_rie()


def push(
    name: str, registry: str, creds: tuple[str, str], tag: str = "latest", repository: str | None = None
) -> str:
    """Copies the image into a registry (plain HTTP, basic auth) with skopeo; returns its URI `registry/repo:tag`."""
    uri = f"{registry}/{repository or name}:{tag}"
    command = [
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"{creds[0]}:{creds[1]}",
        layout_ref(name),
        f"docker://{uri}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pushing {name} to {uri} failed:\n{done.stdout}{done.stderr}")
    return uri


class BuiltImages:
    """What the `test_images` fixture hands a test: the functions above, with the harness's credentials."""

    names = tuple(IMAGES)
    python_handlers = PYTHON_HANDLERS
    shell_handlers = SHELL_HANDLERS

    def path(self, name: str) -> Path:
        return image_path(name)

    def layout_ref(self, name: str) -> str:
        return layout_ref(name)

    def docker_archive(self, name: str) -> Path:
        return docker_archive_path(name)

    def digest(self, name: str) -> str:
        return image_digest(name)

    def rootfs(self, name: str) -> Path:
        return rootfs_dir(name)

    def rie(self) -> Path:
        return rie_path()

    def push(
        self,
        name: str,
        registry: str,
        creds: tuple[str, str] | None = None,
        tag: str = "latest",
        repository: str | None = None,
    ) -> str:
        if creds is None:
            from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY

            creds = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        return push(name, registry, creds, tag=tag, repository=repository)
