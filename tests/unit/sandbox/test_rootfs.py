"""The sandbox root's skeleton layer (needs no privileges)."""

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
