"""`lambkin image pull` from a real registry (Debian's docker-registry), anonymous and with basic auth."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.image_tools import (
    DockerRegistry,
    busybox_layout,
    lambkin,
    remote_digest,
    run,
    skopeo_copy,
)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_layout(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, layout: Path) -> Iterator[DockerRegistry]:
    instance = DockerRegistry(tmp_path_factory.mktemp("registry")).start()
    try:
        skopeo_copy(f"oci:{layout}:busybox:v1", f"docker://{instance.address}/team/busybox:v1")
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory, layout: Path) -> Iterator[DockerRegistry]:
    instance = DockerRegistry(tmp_path_factory.mktemp("auth-registry"), auth=True).start()
    try:
        skopeo_copy(
            f"oci:{layout}:busybox:v1",
            f"docker://{instance.address}/private/app:v3",
            "--dest-creds",
            instance.creds(),
        )
        yield instance
    finally:
        instance.stop()


def images(data_dir: Path) -> list[dict[str, object]]:
    listed = lambkin("image", "ls", "--json", "--data-dir", data_dir)
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, object]] = json.loads(listed.stdout)
    return rows


def test_pull_by_tag_stores_the_registry_manifest_under_its_name(
    tmp_path: Path, registry: DockerRegistry
) -> None:
    expected = remote_digest(f"{registry.address}/team/busybox:v1")

    pulled = lambkin("image", "pull", f"{registry.address}/team/busybox:v1", "--data-dir", tmp_path)

    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().splitlines()[-1] == expected
    assert "Copied blob sha256:" in pulled.stderr
    [image] = images(tmp_path)
    assert (image["repository"], image["tags"], image["digest"]) == ("team/busybox", ["v1"], expected)


def test_pulling_again_downloads_nothing(tmp_path: Path, registry: DockerRegistry) -> None:
    ref = f"{registry.address}/team/busybox:v1"
    assert lambkin("image", "pull", ref, "--data-dir", tmp_path).returncode == 0

    again = lambkin("image", "pull", ref, "--data-dir", tmp_path)

    assert again.returncode == 0, again.stderr
    assert "already stored" in again.stderr
    assert "Copied blob" not in again.stderr


def test_pull_by_digest_with_basic_auth(tmp_path: Path, auth_registry: DockerRegistry) -> None:
    digest = remote_digest(f"{auth_registry.address}/private/app:v3", "--creds", auth_registry.creds())

    pulled = lambkin(
        "image", "pull", f"{auth_registry.address}/private/app@{digest}", "--creds", auth_registry.creds(),
        "--data-dir", tmp_path,
    )  # fmt: skip

    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().splitlines()[-1] == digest
    [image] = images(tmp_path)
    assert (image["repository"], image["tags"], image["digest"]) == ("private/app", [], digest)


def test_pull_without_credentials_is_refused_clearly(tmp_path: Path, auth_registry: DockerRegistry) -> None:
    pulled = lambkin("image", "pull", f"{auth_registry.address}/private/app:v3", "--data-dir", tmp_path)

    assert pulled.returncode == 1
    assert "refused access (401)" in pulled.stderr
    assert images(tmp_path) == []


def test_pull_with_wrong_password_is_refused(tmp_path: Path, auth_registry: DockerRegistry) -> None:
    pulled = lambkin(
        "image",
        "pull",
        f"{auth_registry.address}/private/app:v3",
        "--creds",
        "alice:wrong",
        "--data-dir",
        tmp_path,
    )

    assert pulled.returncode == 1
    assert "refused access (401)" in pulled.stderr


def test_pull_of_an_unknown_tag_says_not_found(tmp_path: Path, registry: DockerRegistry) -> None:
    pulled = lambkin("image", "pull", f"{registry.address}/team/busybox:nope", "--data-dir", tmp_path)

    assert pulled.returncode == 1
    assert "not found in the registry" in pulled.stderr


def test_pull_of_a_multi_platform_index_takes_the_host_entry(
    tmp_path: Path, registry: DockerRegistry, layout: Path
) -> None:
    skopeo_copy(f"oci:{layout}:busybox-arm:v1", f"docker://{registry.address}/team/multi:arm64")
    amd64 = remote_digest(f"{registry.address}/team/busybox:v1")
    arm64 = remote_digest(f"{registry.address}/team/multi:arm64")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": size,
             "platform": {"os": "linux", "architecture": arch}}
            for d, size, arch in [
                (arm64, _manifest_size(registry, "team/multi:arm64"), "arm64"),
                (amd64, _manifest_size(registry, "team/busybox:v1"), "amd64"),
            ]
        ],
    }  # fmt: skip
    skopeo_copy(
        f"docker://{registry.address}/team/busybox:v1", f"docker://{registry.address}/team/multi:amd64"
    )
    _put_index(registry, "team/multi", "v1", json.dumps(index).encode())

    pulled = lambkin("image", "pull", f"{registry.address}/team/multi:v1", "--data-dir", tmp_path)

    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().splitlines()[-1] == amd64
    arm_only = lambkin("image", "pull", f"{registry.address}/team/multi:arm64", "--data-dir", tmp_path)
    assert arm_only.returncode == 1
    assert "linux/arm64 image; linux/amd64 is needed" in arm_only.stderr


def _manifest_size(registry: DockerRegistry, name: str) -> int:
    return len(
        run("skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{registry.address}/{name}").stdout
    )


def _put_index(registry: DockerRegistry, repository: str, tag: str, raw: bytes) -> None:
    import httpx

    response = httpx.put(
        f"http://{registry.address}/v2/{repository}/manifests/{tag}",
        content=raw,
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )
    assert response.status_code == 201, response.text


def test_a_registry_named_by_host_name_over_plain_http_needs_tls_verify_false(
    tmp_path: Path, registry: DockerRegistry
) -> None:
    ref = f"{socket.gethostname()}:{registry.port}/team/busybox:v1"

    refused = lambkin("image", "pull", ref, "--data-dir", tmp_path)
    pulled = lambkin("image", "pull", ref, "--tls-verify=false", "--data-dir", tmp_path)

    assert refused.returncode == 1
    assert "use --tls-verify=false" in refused.stderr
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip().splitlines()[-1] == remote_digest(f"{registry.address}/team/busybox:v1")


def test_a_registry_with_a_self_signed_certificate(tmp_path: Path, layout: Path) -> None:
    tls_registry = DockerRegistry(tmp_path / "tls-registry", tls=True).start()
    try:
        skopeo_copy(f"oci:{layout}:busybox:v1", f"docker://{tls_registry.address}/secure/app:v1")
        ref = f"{socket.gethostname()}:{tls_registry.port}/secure/app:v1"

        refused = lambkin("image", "pull", ref, "--data-dir", tmp_path / "data")
        pulled = lambkin("image", "pull", ref, "--tls-verify=false", "--data-dir", tmp_path / "data")
        loopback = lambkin(
            "image", "pull", f"{tls_registry.address}/secure/app:v1", "--data-dir", tmp_path / "data"
        )
    finally:
        tls_registry.stop()

    assert refused.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert "use --tls-verify=false" in refused.stderr
    assert pulled.returncode == 0, pulled.stderr
    assert loopback.returncode == 0, loopback.stderr
    assert pulled.stdout.strip().splitlines()[-1] == loopback.stdout.strip().splitlines()[-1]
