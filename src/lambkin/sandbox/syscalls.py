"""Thin ctypes wrappers for the Linux syscalls Python 3.11 lacks: unshare, setns, mount, the new mount API."""

from __future__ import annotations

import ctypes
import os
import platform

CLONE_NEWNET = 0x40000000
MNT_DETACH = 2
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4

_FSOPEN_CLOEXEC = 1
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 1
_MOUNT_ATTR_RDONLY = 0x1
_MOUNT_ATTR_NOSUID = 0x2
_MOUNT_ATTR_NODEV = 0x4
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100
# The new mount API has the same numbers on every architecture (the unified syscall table, 428 onwards).
_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432
_PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    _check(
        _libc.mount(
            source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags), data.encode() or None
        ),
        f"mount {fstype} on {target}",
    )


def umount(target: str, flags: int = MNT_DETACH) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def set_child_subreaper() -> None:
    """Orphaned descendants (a container's init once `runc run --detach` exits) become our children."""
    _check(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


def new_mount_api() -> bool:
    """Whether fsopen() & co. can be called here (Linux 5.2+, x86_64/aarch64 numbering)."""
    return platform.machine() in ("x86_64", "aarch64")


def mount_overlay_layers(lower_dirs: list[str], target: str) -> None:
    """Mounts a read-only overlay of `lower_dirs` (top-most first) on `target`, one `lowerdir+` per layer,
    so the one-page limit of mount(2)'s option string never applies (Linux 6.8+)."""
    fs = _check(_libc.syscall(_SYS_FSOPEN, b"overlay", _FSOPEN_CLOEXEC), "fsopen overlay")
    try:
        for lower in lower_dirs:
            _check(
                _libc.syscall(_SYS_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"lowerdir+", lower.encode(), 0),
                f"overlay lowerdir+ {lower}",
            )
        _check(_libc.syscall(_SYS_FSCONFIG, fs, _FSCONFIG_CMD_CREATE, None, None, 0), "overlay create")
        attrs = _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV
        mnt = _check(_libc.syscall(_SYS_FSMOUNT, fs, _FSMOUNT_CLOEXEC, attrs), "fsmount overlay")
        try:
            _check(
                _libc.syscall(
                    _SYS_MOVE_MOUNT, mnt, b"", _AT_FDCWD, target.encode(), _MOVE_MOUNT_F_EMPTY_PATH
                ),
                f"move_mount overlay to {target}",
            )
        finally:
            os.close(mnt)
    finally:
        os.close(fs)
