"""The sandbox root's helpers that need no privileges: the skeleton layer and the mount table reader."""

from __future__ import annotations

import stat
from pathlib import Path

from lambkin.sandbox import rootfs


def test_skeleton_has_the_mount_points_and_hosts(tmp_path: Path) -> None:
    skeleton = rootfs.ensure_skeleton(tmp_path / "skeleton")
    assert rootfs.ensure_skeleton(tmp_path / "skeleton") == skeleton
    assert {p.name for p in skeleton.iterdir()} == {"proc", "dev", "sys", "tmp", "etc"}
    assert stat.S_IMODE((skeleton / "tmp").stat().st_mode) == 0o1777
    assert "localhost" in (skeleton / "etc" / "hosts").read_text()


def test_mounts_under_reads_escaped_paths_deepest_first(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "1 0 0:1 / / rw - ext4 /dev/vda rw\n"
        "2 1 0:2 / /data/sandboxes/a\\040b/rootfs ro - overlay overlay ro\n"
        "3 2 0:3 / /data/sandboxes/a\\040b/rootfs/tmp rw - tmpfs tmpfs rw\n"
        "4 1 0:4 / /data/other rw - tmpfs tmpfs rw\n"
    )
    assert rootfs.mounts_under(Path("/data/sandboxes"), table) == [
        Path("/data/sandboxes/a b/rootfs/tmp"),
        Path("/data/sandboxes/a b/rootfs"),
    ]
