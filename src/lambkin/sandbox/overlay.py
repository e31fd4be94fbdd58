"""Overlay mounts: a read-only overlay of unpacked layers mounted on a directory, found in the mount table, undone."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
# overlayfs reads its options from one page; keep a margin for the other options.
MAX_OPTIONS = 4000
MAX_LAYERS = 500
EMPTY_LOWER = ".empty"
_SPECIAL = (":", ",", "\\", "=")
MOUNT_TABLE = Path("/proc/self/mountinfo")
_OCTAL = re.compile(r"\\([0-7]{3})")  # mountinfo escapes space, tab, newline and backslash


class MountError(OSError):
    """The kernel refused to mount or unmount a root filesystem."""


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _raise(what: str, target: Path) -> None:
    code = ctypes.get_errno()
    raise MountError(code, f"{what} {target}: {os.strerror(code)}")


def mount_overlay(lower_dirs: Sequence[Path], target: Path) -> None:
    """Mounts the read-only overlay of `lower_dirs` (top-most first) on the existing directory `target`.

    With only lower directories overlayfs is read-only by construction. One layer gets an empty
    directory beneath it (overlayfs wants two). If the paths would not fit in the option page, each
    directory is passed as a short `/proc/self/fd/N` path to a descriptor held open for the mount call.
    Blocking but fast (one syscall, well under a millisecond): call it in a thread on the server.
    """
    dirs = [Path(d) for d in lower_dirs]
    if not dirs:
        raise ValueError("an overlay root needs at least one layer")
    if len(dirs) > MAX_LAYERS:
        raise ValueError(f"an image of {len(dirs)} layers exceeds overlayfs' limit of {MAX_LAYERS}")
    if len(dirs) == 1:
        empty = dirs[0].parent / EMPTY_LOWER
        empty.mkdir(mode=0o755, exist_ok=True)
        dirs.append(empty)
    with _option_paths(dirs) as paths:
        options = "lowerdir=" + ":".join(paths)
        if (
            _libc().mount(
                b"overlay",
                os.fsencode(target),
                b"overlay",
                MS_RDONLY | MS_NOSUID | MS_NODEV,
                options.encode(),
            )
            != 0
        ):
            _raise("cannot mount the overlay root on", target)


@contextlib.contextmanager
def _option_paths(dirs: list[Path]) -> Iterator[list[str]]:
    plain = [str(d.resolve()) for d in dirs]
    if sum(len(p) + 1 for p in plain) < MAX_OPTIONS and not any(c in p for p in plain for c in _SPECIAL):
        yield plain
        return
    fds: list[int] = []
    try:
        for directory in plain:
            fds.append(os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        yield [f"/proc/self/fd/{fd}" for fd in fds]
    finally:
        for fd in fds:
            os.close(fd)


def unmount(target: Path, lazy: bool = False) -> None:
    """Unmounts a root filesystem; `lazy` detaches it even while something still uses it."""
    if _libc().umount2(os.fsencode(target), MNT_DETACH if lazy else 0) != 0:
        _raise("cannot unmount", target)


def detach(target: Path) -> None:
    """Detaches whatever is mounted on `target` (lazily: even while something still uses it); quiet if
    nothing is."""
    try:
        unmount(target, lazy=True)
    except MountError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):  # not a mount point; gone
            raise


def is_mounted(target: Path) -> bool:
    wanted = str(target.resolve())
    return any(str(point) == wanted for point in _mount_points(MOUNT_TABLE))


def mounts_under(directory: Path, table: Path = MOUNT_TABLE) -> list[Path]:
    """Every mount point at or below `directory`, deepest first (the order to unmount them)."""
    prefix = str(directory).rstrip("/") + "/"
    found = [p for p in _mount_points(table) if str(p).startswith(prefix) or str(p) == prefix.rstrip("/")]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _mount_points(table: Path) -> Iterator[Path]:
    """The mount points of a mountinfo table, unescaped."""
    with table.open() as mountinfo:
        for line in mountinfo:
            yield Path(_OCTAL.sub(lambda m: chr(int(m.group(1), 8)), line.split(" ", 5)[4]))
