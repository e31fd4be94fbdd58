"""Real clients against the registry: skopeo and buildah push, pull and inspect round trips."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

CREDS = f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"
pytestmark = pytest.mark.slow


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Buildah:
    """buildah with its own storage under a temporary directory, so tests share nothing with the host."""

    root: Path

    def __call__(self, *args: str) -> str:
        storage = [
            "--root",
            str(self.root / "root"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "vfs",
        ]
        return run("buildah", *storage, *args).strip()


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Buildah:
    """buildah storage holding `app:v1`: two layers (random bytes, then text) and an image config."""
    work = tmp_path_factory.mktemp("buildah")
    tool = Buildah(work)
    (work / "one").mkdir()
    (work / "one" / "random.bin").write_bytes(bytes(range(256)) * 2048 + b"one")
    (work / "two").mkdir()
    (work / "two" / "hello.txt").write_text("hello from lambkin's registry tests\n")
    base = tool("from", "scratch")
    tool("copy", base, str(work / "one"), "/data/one/")
    tool("commit", "--rm", base, "localhost/base:v1")
    top = tool("from", "localhost/base:v1")
    tool("copy", top, str(work / "two"), "/data/two/")
    tool(
        "config",
        "--entrypoint",
        '["/bin/app"]',
        "--cmd",
        "serve",
        "--env",
        "MODE=test",
        "--workingdir",
        "/data",
        top,
    )
    tool("commit", "--rm", top, "localhost/app:v1")
    return tool


@pytest.fixture(scope="module")
def oci_layout(buildah: Buildah, tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = tmp_path_factory.mktemp("layout") / "app"
    buildah("push", "localhost/app:v1", f"oci:{layout}:v1")
    return layout


def inspect(server: LambkinServer, ref: str, raw: bool = False) -> dict[str, object]:
    args = ["skopeo", "inspect", "--tls-verify=false", "--creds", CREDS]
    out = run(*args, *(["--raw"] if raw else []), f"docker://{server.registry}/{ref}")
    doc: dict[str, object] = json.loads(out)
    return doc


def copy(src: str, dest: str, *extra: str) -> None:
    run(
        "skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
        "--src-creds", CREDS, "--dest-creds", CREDS, *extra, src, dest,
    )  # fmt: skip


def layout_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    digest: str = index["manifests"][0]["digest"]
    return digest


def test_skopeo_round_trip_keeps_digests(server: LambkinServer, oci_layout: Path, tmp_path: Path) -> None:
    copy(f"oci:{oci_layout}:v1", f"docker://{server.registry}/roundtrip/app:v1")
    pushed = inspect(server, "roundtrip/app:v1")
    assert pushed["RepoTags"] == ["v1"]
    assert pushed["Env"] == ["MODE=test"]
    assert len(pushed["Layers"]) == 2  # type: ignore[arg-type]

    out = tmp_path / "out"
    copy(f"docker://{server.registry}/roundtrip/app:v1", f"oci:{out}:v1")
    assert layout_digest(out) == pushed["Digest"]
    for layer in pushed["Layers"]:  # type: ignore[attr-defined]
        assert (out / "blobs" / "sha256" / layer.split(":")[1]).is_file()

    # Registry to registry: skopeo mounts the blobs across repositories, and the digest survives.
    copy(f"docker://{server.registry}/roundtrip/app:v1", f"docker://{server.registry}/roundtrip/copy:v2")
    assert inspect(server, "roundtrip/copy:v2")["Digest"] == pushed["Digest"]
    assert inspect(server, "roundtrip/copy:v2", raw=True) == inspect(server, "roundtrip/app:v1", raw=True)


def test_docker_schema2_round_trip(server: LambkinServer, oci_layout: Path, tmp_path: Path) -> None:
    copy(f"oci:{oci_layout}:v1", f"docker://{server.registry}/docker/app:v1", "--format", "v2s2")
    raw = inspect(server, "docker/app:v1", raw=True)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    copy(f"docker://{server.registry}/docker/app:v1", f"dir:{tmp_path / 'dir'}")
    assert json.loads((tmp_path / "dir" / "manifest.json").read_text()) == raw


def test_buildah_push(server: LambkinServer, buildah: Buildah) -> None:
    buildah(
        "push",
        "--tls-verify=false",
        "--creds",
        CREDS,
        "localhost/app:v1",
        f"docker://{server.registry}/built/app:latest",
    )
    pushed = inspect(server, "built/app:latest")
    assert pushed["Env"] == ["MODE=test"] and len(pushed["Layers"]) == 2  # type: ignore[arg-type]
    config = inspect(server, "built/app:latest", raw=True)["config"]
    assert isinstance(config, dict)
    blob = run(
        "skopeo",
        "inspect",
        "--config",
        "--tls-verify=false",
        "--creds",
        CREDS,
        f"docker://{server.registry}/built/app:latest",
    )
    assert json.loads(blob)["config"]["Entrypoint"] == ["/bin/app"]


def test_clients_without_the_right_credentials_are_refused(server: LambkinServer, oci_layout: Path) -> None:
    for creds in (["--dest-creds", f"{ACCESS_KEY_ID}:wrong"], ["--dest-no-creds"]):
        done = subprocess.run(
            ["skopeo", "copy", "--dest-tls-verify=false", *creds, f"oci:{oci_layout}:v1", f"docker://{server.registry}/denied/app:v1"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode != 0
        assert "unauthorized" in done.stderr.lower() or "401" in done.stderr
