"""Orphans: sandboxes of other lambkin instances whose data directory is gone, so no restart will clean them.

A lambkin instance keeps its runc state in `/run/lambkin/<instance>/<id>/state.json`; the config there names
the bundle's rootfs under that instance's data directory. If the bundle no longer exists (a server killed
and its data directory deleted, as test suites do), nothing can ever reach that sandbox again: any instance
may remove it at startup. A sandbox whose bundle exists is never touched here.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from lambkin.sandbox.cgroups import Cgroup

STATE_ROOT = Path("/run/lambkin")


def find(own_root: Path, state_root: Path = STATE_ROOT) -> list[tuple[Path, str]]:
    """(runc root, container id) of every orphaned sandbox outside `own_root`."""
    found: list[tuple[Path, str]] = []
    try:
        with os.scandir(state_root) as instances:
            roots = [Path(entry.path) for entry in instances if entry.is_dir()]
    except FileNotFoundError:
        return found
    for root in roots:
        if root == own_root:
            continue
        try:
            with os.scandir(root) as containers:
                ids = [entry.name for entry in containers if entry.is_dir()]
        except OSError:
            continue
        for sandbox_id in ids:
            try:
                state = json.loads((root / sandbox_id / "state.json").read_text())
                rootfs = Path(state["config"]["rootfs"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if not rootfs.parent.exists():
                found.append((root, sandbox_id))
    return found


def forget(root: Path, sandbox_id: str) -> None:
    """Blocking. After `runc delete`: the sandbox's cgroup, and the instance's directories once empty."""
    instance = root.name
    Cgroup(f"/lambkin/{instance}/{sandbox_id}").remove()
    try:
        root.rmdir()
    except OSError:
        return  # other containers still there
    parent = Cgroup(f"/lambkin/{instance}")
    for directory in parent.directories():
        with contextlib.suppress(OSError):
            directory.rmdir()
