"""Hostile layers are rejected with a clear error and write nothing outside the layer directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambkin.images.unpack import LayerRejected, unpack_file
from tests.unit.images.layer_tars import Entry, directory, file, hardlink, symlink, write_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners and whiteouts needs root")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "victim").write_bytes(b"original")
    return target


def unpack_entries(tmp_path: Path, entries: list[Entry]) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "layer" / "root"
    dest.mkdir(parents=True)
    write_layer(blob, entries, "gzip")
    unpack_file(blob, dest)


ATTACKS = {
    "dot-dot": ([file("../../outside/evil", b"x")], "escapes the layer"),
    "dot-dot-inside": ([file("a/b/../../../outside/evil", b"x")], "escapes the layer"),
    "absolute": ([file("/tmp/evil", b"x")], "absolute path"),
    "symlink-out-then-write": (
        [symlink("link", "../../outside"), file("link/evil", b"x")],
        "through the symbolic link link",
    ),
    "absolute-symlink-then-write": (
        [symlink("etc", "/etc"), file("etc/evil-lambkin-test", b"x")],
        "through the symbolic link etc",
    ),
    "symlink-overwrite-victim": (
        [symlink("v", "../../outside/victim"), symlink("d", "../../outside"), file("d/victim", b"pwned")],
        "through the symbolic link d",
    ),
    "symlink-to-dot-then-deep": ([symlink("s", "."), file("s/s/x", b"x")], "through the symbolic link s"),
    "hardlink-dot-dot": ([hardlink("h", "../../outside/victim")], "escapes the layer"),
    "hardlink-absolute": ([hardlink("h", "/etc/passwd")], "absolute path"),
    "hardlink-through-symlink": (
        [symlink("l", "../../outside"), hardlink("h", "l/victim")],
        "through the symbolic link l",
    ),
    "hardlink-to-missing": ([hardlink("h", "nothing")], "not in this layer"),
    "hardlink-to-directory": ([directory("d/"), hardlink("h", "d")], "hard link to the directory"),
    "whiteout-dot-dot": ([file("a/.wh...")], "malformed whiteout"),
    "whiteout-through-symlink": ([symlink("l", "../../outside"), file("l/.wh.victim")], "symbolic link l"),
    "opaque-through-symlink": ([symlink("l", "../../outside"), file("l/.wh..wh..opq")], "symbolic link l"),
    "nul-in-path": ([Entry("a", pax={"path": "a\0b"})], "NUL"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_layer_is_rejected_and_nothing_escapes(tmp_path: Path, outside: Path, attack: str) -> None:
    entries, message = ATTACKS[attack]

    with pytest.raises(LayerRejected, match=message):
        unpack_entries(tmp_path, entries)

    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_bytes() == b"original"
    assert not Path("/etc/evil-lambkin-test").exists()
    assert not Path("/tmp/evil").exists()


def test_a_truncated_layer_is_rejected(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    write_layer(blob, [file("big", os.urandom(100_000))], "gzip")
    blob.write_bytes(blob.read_bytes()[:50_000])

    with pytest.raises(LayerRejected, match="not a readable tar stream"):
        unpack_file(blob, dest)


def test_garbage_is_rejected(tmp_path: Path) -> None:
    blob, dest = tmp_path / "layer.blob", tmp_path / "out"
    dest.mkdir()
    blob.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(2000))

    with pytest.raises(LayerRejected, match="not a readable tar stream"):
        unpack_file(blob, dest)
