"""The overlay helpers that need no privileges: the mount table reader."""

from __future__ import annotations

from pathlib import Path

from lambkin.sandbox import overlay


def test_mounts_under_reads_escaped_paths_deepest_first(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "1 0 0:1 / / rw - ext4 /dev/vda rw\n"
        "2 1 0:2 / /data/sandboxes/a\\040b/rootfs ro - overlay overlay ro\n"
        "3 2 0:3 / /data/sandboxes/a\\040b/rootfs/tmp rw - tmpfs tmpfs rw\n"
        "4 1 0:4 / /data/other rw - tmpfs tmpfs rw\n"
    )
    assert overlay.mounts_under(Path("/data/sandboxes"), table) == [
        Path("/data/sandboxes/a b/rootfs/tmp"),
        Path("/data/sandboxes/a b/rootfs"),
    ]
