"""A sandbox's /tmp: an ext4 file system in a sparse file on the data disk, loop-mounted in its bundle.

Sized by the function's ephemeral storage, independent of its memory: written pages are page cache of a
disk, reclaimed by writeback, not tmpfs pages charged to the sandbox's memory; a full /tmp means ENOSPC.
One empty file system per size is made once (`mkfs.ext4`, ~25 ms) and each sandbox gets a sparse copy
of it (a few hundred KB of metadata), attached to a loop device and mounted: about a millisecond.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import struct
import subprocess
import threading
from pathlib import Path

from lambkin.sandbox import overlay

_LOOP_CONTROL = "/dev/loop-control"
_LOOP_CTL_GET_FREE = 0x4C82
_LOOP_CONFIGURE = 0x4C0A
_LO_FLAGS_AUTOCLEAR = 4  # the loop device goes away with its last mount
# struct loop_config: u32 fd, u32 block_size, struct loop_info64 (232 bytes, u32 lo_flags at 52), u64[8].
_LOOP_CONFIG = struct.Struct("=II52xI176x64x")
_ATTACH_ATTEMPTS = 20  # another thread may take the free device between GET_FREE and CONFIGURE
# No journal (nothing in /tmp outlives its sandbox), inode tables left unwritten (the file is sparse:
# they read as zeros) and never zeroed later (mount option `noinit_itable`), no reserved blocks.
_MKFS = ("mkfs.ext4", "-q", "-F", "-b", "4096", "-m", "0", "-O", "^has_journal")
_MKFS_EXTENDED = "lazy_itable_init=1,lazy_journal_init=1,nodiscard"
_MOUNT_OPTIONS = b"noinit_itable"
_templates_lock = threading.Lock()


class ScratchError(OSError):
    """A /tmp file system could not be made, attached or mounted."""


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount_tmp(templates: Path, size_mb: int, image: Path, target: Path) -> None:
    """Blocking. Mounts a fresh, empty /tmp of `size_mb` on the existing directory `target`, its blocks in
    the sparse file `image` (which must not exist). Undo with `overlay.detach(target)` and delete `image`."""
    _sparse_copy(template(templates, size_mb), image)
    _mount_image(image, target)


def template(templates: Path, size_mb: int) -> Path:
    """The empty file system of `size_mb` (root directory 1777, no lost+found), made on first use."""
    path = templates / f"{size_mb}m.ext4"
    if path.exists():
        return path
    with _templates_lock:
        if path.exists():
            return path
        templates.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        with partial.open("wb") as file:
            file.truncate(size_mb * 1024 * 1024)
        done = subprocess.run(
            [*_MKFS, "-E", _MKFS_EXTENDED, str(partial)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ScratchError(errno.EIO, f"mkfs.ext4 of a {size_mb} MB /tmp failed: {done.stderr.strip()}")
        mountpoint = templates / "mnt"
        mountpoint.mkdir(exist_ok=True)
        _mount_image(partial, mountpoint)
        try:
            (mountpoint / "lost+found").rmdir()
            mountpoint.chmod(0o1777)
        finally:
            overlay.unmount(mountpoint)
        partial.rename(path)
    return path


def _sparse_copy(source: Path, destination: Path) -> None:
    """Copies only the data extents of `source`; its holes stay holes."""
    with source.open("rb") as src, destination.open("xb") as dst:
        size = os.fstat(src.fileno()).st_size
        os.ftruncate(dst.fileno(), size)
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # nothing but a hole up to the end
                    break
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            position = start
            while position < end:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), end - position, position, position)
                if copied == 0:
                    raise ScratchError(errno.EIO, f"copying {source}: it shrank while being read")
                position += copied
            offset = end


def _mount_image(image: Path, target: Path) -> None:
    """Attaches `image` to a free loop device (cleared with its last mount) and mounts it on `target`."""
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        device, loop = _attach(backing)
    finally:
        os.close(backing)
    try:
        flags = overlay.MS_NOSUID | overlay.MS_NODEV
        if _libc().mount(device.encode(), os.fsencode(target), b"ext4", flags, _MOUNT_OPTIONS) != 0:
            code = ctypes.get_errno()
            raise ScratchError(code, f"cannot mount /tmp on {target}: {os.strerror(code)}")
    finally:
        os.close(loop)  # the mount now holds the device; unused, it clears itself


def _attach(backing: int) -> tuple[str, int]:
    """A loop device configured on the file `backing`: its path and an open descriptor of it."""
    config = _LOOP_CONFIG.pack(backing, 0, _LO_FLAGS_AUTOCLEAR)
    control = os.open(_LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(_ATTACH_ATTEMPTS):
            device = f"/dev/loop{fcntl.ioctl(control, _LOOP_CTL_GET_FREE)}"
            loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.ioctl(loop, _LOOP_CONFIGURE, config)
            except OSError as exc:
                os.close(loop)
                if exc.errno != errno.EBUSY:
                    raise
                continue
            return device, loop
    finally:
        os.close(control)
    raise ScratchError(errno.EBUSY, "no free loop device for /tmp")
