"""Legitimate layers unpack byte-exact with their metadata; whiteouts become what overlayfs expects."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lambkin.images.unpack import DiffIdMismatch, unpack_file
from lambkin.sandbox.overlay import mount_overlay, unmount
from tests.unit.images.layer_tars import Entry, directory, file, hardlink, symlink, write_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners and whiteouts needs root")

BIG = os.urandom(3 << 20)
LEGIT = [
    directory("./"),
    directory("usr/", mode=0o755, uid=0, gid=0, mtime=1_500_000_000),
    directory("usr/bin/", mode=0o755),
    file("usr/bin/tool", b"#!/bin/sh\necho hi\n", mode=0o4755, uid=0, gid=0),
    file("usr/share/data.bin", BIG, mode=0o640, uid=1234, gid=5678, mtime=1_400_000_000),
    symlink("bin", "usr/bin"),
    symlink("etc/escape-ok", "/../../etc/passwd"),
    hardlink("usr/bin/tool-again", "usr/bin/tool"),
    directory("var/private/", mode=0o700, uid=99, gid=99, mtime=1_300_000_000),
    file("var/private/secret", b"s", mode=0o600, uid=99, gid=99, pax={"SCHILY.xattr.user.note": "kept"}),
    file("ping", b"x", mode=0o755, pax={"SCHILY.xattr.trusted.overlay.opaque": "y"}),
]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_a_legit_layer_unpacks_byte_exact_with_metadata(tmp_path: Path, compression: str) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    diff_id = write_layer(blob, LEGIT, compression)

    stats = unpack_file(blob, dest, expected_diff_id=diff_id)

    assert stats.diff_id == diff_id
    assert stats.entries == len(LEGIT)
    data = dest / "usr/share/data.bin"
    assert data.read_bytes() == BIG
    st = data.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0o640, 1234, 5678, 1_400_000_000)
    assert stat.S_IMODE((dest / "usr/bin/tool").stat().st_mode) == 0o755  # setuid stripped
    assert os.readlink(dest / "bin") == "usr/bin"
    assert os.readlink(dest / "etc/escape-ok") == "/../../etc/passwd"
    assert (dest / "usr/bin/tool-again").stat().st_ino == (dest / "usr/bin/tool").stat().st_ino
    private = (dest / "var/private").stat()
    assert (stat.S_IMODE(private.st_mode), private.st_uid, private.st_mtime) == (0o700, 99, 1_300_000_000)
    assert (dest / "usr").stat().st_mtime == 1_500_000_000
    assert os.getxattr(dest / "var/private/secret", "user.note") == b"kept"
    assert "trusted.overlay.opaque" not in os.listxattr(dest / "ping")


def test_a_layer_that_does_not_match_its_diff_id_is_rejected(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(blob, [file("a", b"a")], "gzip")

    with pytest.raises(DiffIdMismatch, match="the image config names sha256:0000"):
        unpack_file(blob, dest, expected_diff_id="sha256:" + "0" * 64)


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(
        blob,
        [
            file("x/y", b"1"),
            file("x", b"now a file"),
            symlink("z", "x"),
            file("z", b"file"),
            hardlink("z", "z"),
        ],
    )

    unpack_file(blob, dest)

    assert (dest / "x").read_bytes() == b"now a file"
    assert not (dest / "z").is_symlink()
    assert (dest / "z").read_bytes() == b"file"


def test_whiteouts_become_character_devices_and_opaque_xattrs(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(blob, [file("etc/.wh.motd"), directory("opt/app/"), file("opt/app/.wh..wh..opq")])

    unpack_file(blob, dest)

    whiteout = os.lstat(dest / "etc/motd")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == os.makedev(0, 0)
    assert os.getxattr(dest / "opt/app", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(dest / "opt/app")) == []
    assert not (dest / "etc/.wh.motd").exists()


def test_whiteouts_and_opaque_dirs_hide_lower_layers_when_mounted(tmp_path: Path) -> None:
    lower_blob, upper_blob = tmp_path / "lower.blob", tmp_path / "upper.blob"
    write_layer(
        lower_blob,
        [file("keep", b"k"), file("gone", b"g"), file("dir/old1", b"1"), file("dir/old2", b"2")],
        "gzip",
    )
    write_layer(upper_blob, [file(".wh.gone"), file("dir/.wh..wh..opq"), file("dir/new", b"n")], "zstd")
    lower, upper, root = tmp_path / "lower", tmp_path / "upper", tmp_path / "root"
    for d in (lower, upper, root):
        d.mkdir()
    unpack_file(lower_blob, lower)
    unpack_file(upper_blob, upper)

    mount_overlay([upper, lower], root)
    try:
        assert sorted(os.listdir(root)) == ["dir", "keep"]
        assert os.listdir(root / "dir") == ["new"]
        assert (root / "dir/new").read_bytes() == b"n"
        with pytest.raises(OSError, match="Read-only file system"):
            (root / "keep").write_bytes(b"changed")
    finally:
        unmount(root)


def test_aufs_bookkeeping_entries_are_ignored(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(blob, [Entry(".wh..wh.plnk", type=b"5", mode=0o700), file("a", b"a")])

    unpack_file(blob, dest)

    assert os.listdir(dest) == ["a"]


def test_many_layers_with_long_paths_still_mount(tmp_path: Path) -> None:
    deep = tmp_path / ("long-directory-name-" * 8)
    lower_dirs = []
    for n in range(60):
        layer = deep / f"layer-{n:03}-{'x' * 40}"
        layer.mkdir(parents=True)
        (layer / f"file{n}").write_text(str(n))
        (layer / "shadowed").write_text(str(n))
        lower_dirs.append(layer)
    root = tmp_path / "root"
    root.mkdir()
    assert sum(len(str(d)) + 1 for d in lower_dirs) > 4096

    mount_overlay(list(reversed(lower_dirs)), root)
    try:
        assert len(os.listdir(root)) == 61
        assert (root / "shadowed").read_text() == "59"
        assert (root / "file0").read_text() == "0"
    finally:
        unmount(root)


def test_a_single_layer_mounts(tmp_path: Path) -> None:
    layer, root = tmp_path / "layers" / "one", tmp_path / "root"
    layer.mkdir(parents=True)
    root.mkdir()
    (layer / "only").write_text("1")

    mount_overlay([layer], root)
    try:
        assert os.listdir(root) == ["only"]
    finally:
        unmount(root)
