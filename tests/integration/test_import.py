"""`lambkin image import` of archives made by skopeo: OCI archives, docker-archives, OCI layouts."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lambkin.cli.progress import size
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


def test_import_shows_each_blob_copied_with_its_size(tmp_path: Path, layout: Path) -> None:
    archive = tmp_path / "busybox.oci.tar"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"oci-archive:{archive}:busybox:v1")
    manifest = json.loads(_blob(layout, layout_digest(layout, "busybox:v1")))
    blobs = [manifest["config"], *manifest["layers"]]

    first = lambkin("image", "import", archive, "--data-dir", tmp_path / "data")
    again = lambkin("image", "import", archive, "--data-dir", tmp_path / "data")
    quiet = lambkin("image", "import", archive, "--quiet", "--data-dir", tmp_path / "data")

    assert first.returncode == 0, first.stderr
    shown = first.stderr.splitlines()  # not a terminal: a line per blob, on stderr; stdout stays the result
    for blob in blobs:
        assert f"Copied blob {blob['digest'][:19]} ({size(blob['size'])})" in shown
    assert shown[-1] == f"Copied {size(sum(b['size'] for b in blobs))} into the image store"
    assert again.returncode == 0, again.stderr
    assert {f"Blob {b['digest'][:19]} already stored" for b in blobs} <= set(again.stderr.splitlines())
    assert again.stderr.splitlines()[-1] == "Copied 0 B into the image store"
    assert quiet.stderr == ""
    assert first.stdout == again.stdout == quiet.stdout


def test_import_on_a_terminal_copies_each_layer_under_a_bar_with_its_size(
    tmp_path: Path, layout: Path
) -> None:
    archive = tmp_path / "app.docker.tar"
    skopeo_copy(f"oci:{layout}:busybox:v1", f"docker-archive:{archive}:team/app:v2")
    with tarfile.open(archive) as tar:
        entry = json.loads(tar.extractfile("manifest.json").read())[0]  # type: ignore[union-attr]
        layer_sizes = [tar.getmember(name).size for name in entry["Layers"]]

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambkin",
            "image",
            "import",
            str(archive),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "120"},  # rich draws as on a terminal
    )

    assert done.returncode == 0, done.stderr
    for layer_size in layer_sizes:
        whole = size(layer_size).split()  # a bar ends at "done/total unit", e.g. "1.2/1.2 MB"
        assert f"{whole[0]}/{whole[0]} {whole[1]}" in done.stderr, done.stderr
    assert "Copied blob" not in done.stderr  # the bars say it
    assert done.stdout.startswith("Imported team/app:v2 sha256:")


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
