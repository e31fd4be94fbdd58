"""A zip package becomes a tar layer under its root, and hostile or oversize packages are refused."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from lambkin.images.unpack import LayerRejected, unpack_stream
from lambkin.runtimes.packages import PackageRejected, PackageTooLarge, measure, to_layer


def zip_of(*entries: tuple[str, bytes] | tuple[str, bytes, int]) -> bytes:
    """A zip of (name, content[, unix mode]) entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry[0])
            if len(entry) == 3:
                info.external_attr = entry[2] << 16
            archive.writestr(info, entry[1], zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def layer_of(data: bytes, root: str = "var/task") -> bytes:
    out = io.BytesIO()
    to_layer(data, root, out)
    return out.getvalue()


def test_the_files_land_under_the_root_readable_and_without_setuid(tmp_path: Path) -> None:
    data = zip_of(
        ("app.py", b"def handler(e, c):\n    return e\n"),
        ("bin/tool", b"#!/bin/sh\n", stat.S_IFREG | 0o4755),
        ("lib/", b"", stat.S_IFDIR | 0o755),
        ("lib/current", b"../bin", stat.S_IFLNK | 0o777),
    )
    unpack_stream(io.BytesIO(layer_of(data)), tmp_path)

    assert (tmp_path / "var/task/app.py").read_bytes().startswith(b"def handler")
    assert stat.S_IMODE((tmp_path / "var/task/bin/tool").stat().st_mode) == 0o755
    assert (tmp_path / "var/task/lib/current").readlink() == Path("../bin")
    assert stat.S_IMODE((tmp_path / "var/task").stat().st_mode) == 0o755


def test_measure_reports_lambdas_code_sha256_source_and_sizes() -> None:
    data = zip_of(("a.py", b"x" * 1000), ("b.py", b"y" * 24))
    package = measure(data)
    assert (package.size, package.unzipped_size, package.entries) == (len(data), 1024, 2)


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([("../escape.py", b"x")], id="dot-dot"),
        pytest.param([("/etc/passwd", b"x")], id="absolute"),
        pytest.param([("link", b"/etc", stat.S_IFLNK | 0o777)], id="absolute-symlink"),
        pytest.param([("a/link", b"../../..", stat.S_IFLNK | 0o777)], id="symlink-climbing-out"),
        pytest.param(
            [("dir", b"sub", stat.S_IFLNK | 0o777), ("dir/file", b"x")], id="file-through-a-symlink"
        ),
    ],
)
def test_hostile_packages_are_rejected_as_hostile_layers_are(entries: list[tuple[str, bytes, int]]) -> None:
    data = zip_of(*entries)
    with pytest.raises(PackageRejected) as raised:
        measure(data)
        layer_of(data)
    assert isinstance(raised.value, LayerRejected)


def test_a_zip_bomb_is_refused_from_its_directory_before_any_unzipping() -> None:
    bomb = zip_of(("zeros", bytes(2_000_000)))
    assert len(bomb) < 10_000
    with pytest.raises(PackageTooLarge, match="Unzipped size must be smaller than 1000000 bytes"):
        measure(bomb, budget=1_000_000)


def test_a_package_of_too_many_files_is_refused() -> None:
    with pytest.raises(PackageRejected, match="at most 3 are allowed"):
        measure(zip_of(*((f"f{n}", b"") for n in range(4))), max_files=3)


def test_a_member_lying_about_its_size_is_refused() -> None:
    data = bytearray(zip_of(("a.txt", b"hello world" * 100)))
    # Shrink the declared size in the central directory: the stream is longer than the header says.
    directory = data.rindex(b"PK\x01\x02")
    data[directory + 24 : directory + 28] = (10).to_bytes(4, "little")
    with pytest.raises(PackageRejected):
        layer_of(bytes(data))


def test_something_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(PackageRejected, match="not a readable zip"):
        measure(b"this is not a zip file")
