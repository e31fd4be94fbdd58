"""`lambkin image import` of archives made by skopeo: OCI archives, docker-archives, OCI layouts."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.integration.image_tools import busybox_layout, lambkin, layout_digest, skopeo_copy


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_layout(tmp_path_factory.getbasetemp())


def listed(data_dir: Path) -> list[tuple[str, list[str], str]]:
    done = lambkin("image", "ls", "--json", "--data-dir", data_dir)
    assert done.returncode == 0, done.stderr
    return [(row["repository"], row["tags"], row["digest"]) for row in json.loads(done.stdout)]


def test_import_of_an_oci_archive_keeps_its_name_and_digest(tmp_path: Path, layout: Path) -> None:
    archive = tmp_path / "busybox.oci.tar"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"oci-archive:{archive}:busybox:v1")
    digest = layout_digest(layout, "busybox:v1")

    done = lambkin("image", "import", archive, "--data-dir", tmp_path / "data")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Imported busybox:v1 {digest}"
    assert listed(tmp_path / "data") == [("busybox", ["v1"], digest)]


def test_import_of_a_docker_archive_uses_its_repo_tags(tmp_path: Path, layout: Path) -> None:
    archive = tmp_path / "app.docker.tar"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"docker-archive:{archive}:team/app:v2")

    done = lambkin("image", "import", archive, "--data-dir", tmp_path / "data")

    assert done.returncode == 0, done.stderr
    [(repository, tags, digest)] = listed(tmp_path / "data")
    assert (repository, tags) == ("team/app", ["v2"])
    assert done.stdout.strip() == f"Imported team/app:v2 {digest}"


def test_import_with_tag_renames_the_image(tmp_path: Path, layout: Path) -> None:
    archive = tmp_path / "app.docker.tar"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"docker-archive:{archive}:team/app:v2")

    done = lambkin("image", "import", archive, "--tag", "renamed/app:prod", "--data-dir", tmp_path / "data")

    assert done.returncode == 0, done.stderr
    assert [(r, t) for r, t, _ in listed(tmp_path / "data")] == [("renamed/app", ["prod"])]


def test_import_of_an_unnamed_oci_layout_needs_a_tag(tmp_path: Path, layout: Path) -> None:
    unnamed = tmp_path / "unnamed"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"oci:{unnamed}")
    data = tmp_path / "data"

    refused = lambkin("image", "import", unnamed, "--data-dir", data)
    named = lambkin("image", "import", unnamed, "--tag", "unnamed/app", "--data-dir", data)

    assert refused.returncode == 1
    assert "give one with --tag REPOSITORY:TAG" in refused.stderr
    assert named.returncode == 0, named.stderr
    assert [(r, t) for r, t, _ in listed(data)] == [("unnamed/app", ["latest"])]


def test_import_of_a_layout_directory_imports_every_image(tmp_path: Path, layout: Path) -> None:
    done = lambkin("image", "import", layout, "--data-dir", tmp_path / "data")

    assert done.returncode == 0, done.stderr
    assert sorted((r, tuple(t)) for r, t, _ in listed(tmp_path / "data")) == [
        ("busybox", ("v1",)),
        ("busybox-arm", ("v1",)),
    ]


def test_import_of_something_else_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not an archive at all" * 100)

    done = lambkin("image", "import", junk, "--data-dir", tmp_path / "data")
    missing = lambkin("image", "import", tmp_path / "nothing.tar", "--data-dir", tmp_path / "data")

    assert done.returncode == 1
    assert "is not a tar archive or OCI layout" in done.stderr
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr
    assert listed(tmp_path / "data") == []


def test_image_ls_prints_a_table(tmp_path: Path, layout: Path) -> None:
    assert lambkin("image", "import", layout, "--data-dir", tmp_path / "data").returncode == 0

    table = lambkin("image", "ls", "--data-dir", tmp_path / "data")

    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "DIGEST", "SIZE"]
    assert sorted(line.split()[:2] for line in lines[1:]) == [["busybox", "v1"], ["busybox-arm", "v1"]]
    digest = layout_digest(layout, "busybox:v1")
    assert any(line.split()[2] == digest[:19] and line.endswith("MB") for line in lines[1:])


def test_import_of_a_legacy_docker_save_layout(tmp_path: Path, layout: Path) -> None:
    """`docker save` before Docker 25: <id>/layer.tar (uncompressed), <id>.json config, manifest.json."""
    manifest = json.loads(_blob(layout, layout_digest(layout, "busybox:v1")))
    config = _blob(layout, manifest["config"]["digest"])
    archive = tmp_path / "legacy.tar"
    with tarfile.open(archive, "w") as tar:
        _add(tar, "abc123.json", config)
        layers = []
        for n, layer in enumerate(manifest["layers"]):
            _add(tar, f"layer{n}/layer.tar", gzip.decompress(_blob(layout, layer["digest"])))
            _add(tar, f"layer{n}/VERSION", b"1.0")
            layers.append(f"layer{n}/layer.tar")
        entry = [{"Config": "abc123.json", "RepoTags": ["legacy/app:old"], "Layers": layers}]
        _add(tar, "manifest.json", json.dumps(entry).encode())
        _add(tar, "repositories", json.dumps({"legacy/app": {"old": "layer1"}}).encode())

    done = lambkin("image", "import", archive, "--data-dir", tmp_path / "data")

    assert done.returncode == 0, done.stderr
    assert [(r, t) for r, t, _ in listed(tmp_path / "data")] == [("legacy/app", ["old"])]


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
