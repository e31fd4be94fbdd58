"""A sandbox's cgroup, read and written directly: freezer state, peak memory, OOM kills, removal; and the
pids limit of the cgroup above all of an instance's sandboxes.

runc creates the cgroup (`linux.cgroupsPath`) in every v1 hierarchy, or in the unified one on a pure v2
host; lambkin reads it here because a file write is much faster than spawning `runc pause`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_RMDIR_ATTEMPTS = 30


@functools.cache
def is_v2(root: Path = ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


class Cgroup:
    """The directories of one cgroup path (e.g. `/lambkin/<instance>/<id>`) in the hierarchies that matter."""

    __slots__ = ("path", "root", "v2")

    def __init__(self, path: str, root: Path = ROOT) -> None:
        self.path = path.strip("/")
        self.root = root
        self.v2 = is_v2(root)

    def _dir(self, controller: str) -> Path:
        return self.root / self.path if self.v2 else self.root / controller / self.path

    def freeze(self) -> None:
        if self.v2:
            (self._dir("") / "cgroup.freeze").write_text("1")
        else:
            (self._dir("freezer") / "freezer.state").write_text("FROZEN")

    def thaw(self) -> None:
        if self.v2:
            (self._dir("") / "cgroup.freeze").write_text("0")
        else:
            (self._dir("freezer") / "freezer.state").write_text("THAWED")

    def frozen(self) -> bool:
        """Whether every process is frozen (v1 passes through FREEZING first)."""
        if self.v2:
            return "frozen 1" in (self._dir("") / "cgroup.events").read_text()
        return (self._dir("freezer") / "freezer.state").read_text().strip() == "FROZEN"

    def set_cpu_quota(self, quota_us: int, period_us: int) -> None:
        if self.v2:
            (self._dir("") / "cpu.max").write_text(f"{quota_us} {period_us}")
        else:
            (self._dir("cpu") / "cpu.cfs_quota_us").write_text(str(quota_us))

    def set_cpus(self, cpus: str) -> None:
        """The CPUs its processes run on (kernel list format), within the set runc gave it at creation."""
        directory = self._dir("cpuset")
        if self.v2 and not (directory / "cpuset.cpus").exists():
            self._enable_v2("cpuset")  # runc enables only what the config asked for
        (directory / "cpuset.cpus").write_text(cpus)

    def limit_pids(self, count: int) -> None:
        """Bounds the processes of this cgroup and all below it together (creating it if need be)."""
        directory = self._dir("pids")
        directory.mkdir(parents=True, exist_ok=True)
        if self.v2:
            self._enable_v2("pids")
        (directory / "pids.max").write_text(str(count))

    def _enable_v2(self, controller: str) -> None:
        """A v2 controller, enabled from the root down to this cgroup's parent."""
        for parent in reversed(Path(self.path).parents):
            with contextlib.suppress(OSError):  # already enabled, or not this host's to enable
                (self.root / parent / "cgroup.subtree_control").write_text(f"+{controller}")

    def max_memory_bytes(self) -> int:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self._dir("memory") / name).read_text())
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer took in this cgroup."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in (self._dir("memory") / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def directories(self) -> list[Path]:
        """Where this cgroup exists, in every hierarchy."""
        if self.v2:
            return [self.root / self.path] if (self.root / self.path).is_dir() else []
        return [d / self.path for d in self.root.iterdir() if (d / self.path).is_dir()]

    def thaw_all(self) -> None:
        """Thaws this cgroup and every one below it (runc hangs on a container stuck FREEZING)."""
        for top in self.directories():
            for directory in top.glob("**/"):
                _thaw(directory)

    def remove(self) -> None:
        """Blocking. Kills what is left inside, then removes the cgroup (children first) everywhere."""
        directories = self.directories()
        if not directories:
            return
        below = [d for top in directories for d in top.glob("**/")]
        below.sort(key=lambda p: len(p.parts), reverse=True)
        for directory in below:
            _thaw(directory)  # a frozen process cannot die
            _kill_procs(directory)
        for attempt in range(_RMDIR_ATTEMPTS):
            busy = [d for d in below if not _rmdir(d)]
            if not busy:
                return
            below = busy
            time.sleep(0.002 * (attempt + 1))  # killed processes still exiting
        raise OSError(16, f"cgroup still busy: {below[0]}")


def _thaw(directory: Path) -> None:
    for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
        with contextlib.suppress(OSError):
            (directory / name).write_text(value)


def _rmdir(directory: Path) -> bool:
    try:
        directory.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno == 16:  # EBUSY
            _kill_procs(directory)
            return False
        raise
    return True


def _kill_procs(directory: Path) -> None:
    try:
        pids = (directory / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
