"""Unpacking one image layer (tar, gzip or zstd) into a directory: safely, streaming, with overlayfs whiteouts."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import zstandard

from lambkin.images.readahead import Readable, ReadAhead

CHUNK = 1 << 20
# tarfile copies its whole buffer on every header read: a small buffer is faster than a big one.
TAR_BUFFER = 1 << 16
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# Extended attributes worth keeping from an archive; trusted.* (overlayfs' own) never comes from a layer, nor
# security.capability: file capabilities would make a host copy privileged, as a setuid bit would.
KEPT_XATTR_PREFIXES = ("user.",)
# Setuid and setgid are stripped from every file: a layer's files lie on the host, and the sandbox ignores
# them anyway (its root is mounted nosuid and it runs with no new privileges).
PRIVILEGE_BITS = stat.S_ISUID | stat.S_ISGID
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class LayerRejected(ValueError):
    """A layer that is hostile or malformed: a path escaping the layer, a broken stream."""


class DiffIdMismatch(LayerRejected):
    """The uncompressed layer does not hash to the diff ID the image config names."""


class ImageTooLarge(LayerRejected):
    """An image whose layers unpack to more bytes or files than the server allows."""


@dataclass(frozen=True)
class ImageLimits:
    """How much one image may unpack to: bytes of file content and entries (files, directories, links)."""

    max_bytes: int
    max_files: int


class ImageBudget:
    """What is left of one image's limits, charged by each of its layers as they unpack (in parallel)."""

    def __init__(self, limits: ImageLimits) -> None:
        self.limits = limits
        self._bytes = 0
        self._files = 0
        self._lock = threading.Lock()

    def charge(self, size: int) -> None:
        """Counts one entry of `size` bytes, before it is written; raises ImageTooLarge past a limit."""
        with self._lock:
            self._bytes += size
            self._files += 1
            if self._bytes > self.limits.max_bytes:
                raise ImageTooLarge(
                    f"Uncompressed image size must be smaller than {self.limits.max_bytes} bytes"
                )
            if self._files > self.limits.max_files:
                raise ImageTooLarge(f"An image may hold at most {self.limits.max_files} files")


@dataclass(frozen=True)
class UnpackStats:
    """What one unpack produced: the uncompressed digest, the bytes of file content, the entry count, and
    how many device nodes it skipped."""

    diff_id: str
    size: int
    entries: int
    skipped_devices: int = 0


@contextmanager
def decompressed(buffered: io.BufferedReader) -> Iterator[Readable]:
    """The uncompressed tar stream of a layer blob, whatever its compression (sniffed from magic bytes)."""
    head = buffered.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        with gzip.GzipFile(fileobj=buffered, mode="rb") as stream:
            yield stream
    elif head.startswith(ZSTD_MAGIC):
        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
        with reader:
            yield reader
    else:
        yield buffered


def unpack_file(
    blob: Path, dest: Path, expected_diff_id: str | None = None, budget: ImageBudget | None = None
) -> UnpackStats:
    """Unpacks the layer blob at `blob` into the empty directory `dest` (blocking: run it in a thread).

    Raises LayerRejected for a hostile or malformed layer, DiffIdMismatch if the content is not
    `expected_diff_id`, ImageTooLarge as soon as an entry would take the image past its `budget`. On
    error `dest` is left partly written: the caller unpacks into a staging directory and discards it.
    """
    with blob.open("rb") as raw, decompressed(raw) as stream:
        return unpack_stream(stream, dest, expected_diff_id, budget)


def unpack_stream(
    stream: Readable, dest: Path, expected_diff_id: str | None = None, budget: ImageBudget | None = None
) -> UnpackStats:
    unpacker = _Unpacker(dest, budget)
    try:
        with ReadAhead(stream) as reader:
            with tarfile.open(fileobj=reader, mode="r|", bufsize=TAR_BUFFER) as tar:  # type: ignore[call-overload]
                for member in tar:
                    unpacker.add(tar, member)
            reader.drain()
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, zstandard.ZstdError) as exc:
        # Only a broken stream is the layer's fault; other OSErrors (a full disk) are ours to report.
        raise LayerRejected(f"layer is not a readable tar stream: {exc}") from exc
    unpacker.finish()
    diff_id = reader.digest()
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise DiffIdMismatch(
            f"layer content hashes to {diff_id}, but the image config names {expected_diff_id}"
        )
    return UnpackStats(
        diff_id=diff_id,
        size=unpacker.size,
        entries=unpacker.entries,
        skipped_devices=unpacker.skipped_devices,
    )


def clean_parts(name: str) -> tuple[str, ...]:
    """An archive path as components relative to the layer root; rejects absolute paths and `..`."""
    if "\0" in name:
        raise LayerRejected(f"{name!r}: path contains a NUL byte")
    if name.startswith("/"):
        raise LayerRejected(f"{name!r}: absolute path in layer")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise LayerRejected(f"{name!r}: path escapes the layer with '..'")
    return parts


class _Unpacker:
    """Writes tar members under `root`, never following a symlink, never leaving `root`."""

    def __init__(self, root: Path, budget: ImageBudget | None) -> None:
        self.root = str(root)
        self.budget = budget
        self.size = 0
        self.entries = 0
        self.skipped_devices = 0
        self._dirs: set[str] = {self.root}  # real directories this unpack made or checked
        self._dir_meta: dict[str, tarfile.TarInfo] = {}

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.budget is not None:
            self.budget.charge(member.size if member.isreg() else 0)
        parts = clean_parts(member.name)
        if not parts:
            if not member.isdir():
                raise LayerRejected(f"{member.name!r}: the layer root must be a directory")
            self._dir_meta[self.root] = member
            return
        base = parts[-1]
        if any(p.startswith(WHITEOUT + WHITEOUT) for p in parts[:-1]):
            return  # inside aufs bookkeeping directories (.wh..wh.plnk): meaningless for overlayfs
        if base.startswith(WHITEOUT):
            self._whiteout(member, parts)
            return
        path = os.path.join(self._parent(member.name, parts, create=True), base)
        if member.isdir():
            self._directory(path, member)
        elif member.isreg():
            self._replace(path)
            self._regular(tar, path, member)
        elif member.issym():
            self._replace(path)
            os.symlink(member.linkname, path)
            os.lchown(path, member.uid, member.gid)
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        elif member.islnk():
            target = self._link_target(member)
            if target != path:  # a link to itself changes nothing
                self._replace(path)
                os.link(target, path, follow_symlinks=False)
        elif member.ischr() or member.isblk():
            self._replace(path)  # skipped, as rootless engines do: the sandbox's /dev is its own tmpfs
            self.skipped_devices += 1
        elif member.isfifo():
            self._replace(path)
            os.mkfifo(path, 0o600)
            os.lchown(path, member.uid, member.gid)
            os.chmod(path, _safe_mode(member))
        else:
            raise LayerRejected(f"{member.name!r}: unsupported tar entry type {member.type!r}")

    def _parent(self, name: str, parts: tuple[str, ...], create: bool) -> str:
        """The real directory holding `parts[-1]`; refuses to go through a symlink or a non-directory."""
        path = self.root
        for index, component in enumerate(parts[:-1]):
            path = os.path.join(path, component)
            if path in self._dirs:
                continue
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                if not create:
                    raise LayerRejected(f"{name!r}: {'/'.join(parts[: index + 1])} does not exist") from None
                os.mkdir(path)
                os.chmod(path, 0o755)  # whatever the server's umask: the sandbox's user must traverse it
                self._dirs.add(path)
                continue
            if stat.S_ISDIR(mode):
                self._dirs.add(path)
            elif stat.S_ISLNK(mode):
                raise LayerRejected(
                    f"{name!r}: path goes through the symbolic link {'/'.join(parts[: index + 1])}"
                )
            else:
                raise LayerRejected(f"{name!r}: {'/'.join(parts[: index + 1])} is not a directory")
        return path

    def _replace(self, path: str) -> None:
        """Removes what an earlier member put at `path` (a later member wins, as in tar)."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            shutil.rmtree(path)
            self._dirs = {d for d in self._dirs if d != path and not d.startswith(path + os.sep)}
            for gone in [d for d in self._dir_meta if d == path or d.startswith(path + os.sep)]:
                del self._dir_meta[gone]
        else:
            os.unlink(path)

    def _directory(self, path: str, member: tarfile.TarInfo) -> None:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            os.mkdir(path, 0o700)
        else:
            if not stat.S_ISDIR(mode):
                os.unlink(path)
                os.mkdir(path, 0o700)
        self._dirs.add(path)
        os.lchown(path, member.uid, member.gid)
        _set_xattrs(path, member)
        self._dir_meta[path] = member

    def _regular(self, tar: tarfile.TarFile, path: str, member: tarfile.TarInfo) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        with open(fd, "wb", buffering=0, closefd=True) as out:
            source = tar.extractfile(member)
            if source is not None:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
            os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, _safe_mode(member))
            _set_xattrs(fd, member)
            os.utime(fd, (member.mtime, member.mtime))
        self.size += member.size

    def _link_target(self, member: tarfile.TarInfo) -> str:
        parts = clean_parts(member.linkname)
        if not parts:
            raise LayerRejected(f"{member.name!r}: hard link to the layer root")
        target = os.path.join(self._parent(member.name, parts, create=False), parts[-1])
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            raise LayerRejected(
                f"{member.name!r}: hard link to {member.linkname!r}, not in this layer"
            ) from None
        if stat.S_ISDIR(mode):
            raise LayerRejected(f"{member.name!r}: hard link to the directory {member.linkname!r}")
        return target

    def _whiteout(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        base = parts[-1]
        if base == OPAQUE:
            directory = self._parent(member.name, (*parts[:-1], "_"), create=True)
            os.setxattr(directory, OPAQUE_XATTR, b"y")
            return
        if base.startswith(WHITEOUT + WHITEOUT):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless for overlayfs
        hidden = base[len(WHITEOUT) :]
        if hidden in ("", ".", ".."):
            raise LayerRejected(f"{member.name!r}: malformed whiteout")
        path = os.path.join(self._parent(member.name, parts, create=True), hidden)
        self._replace(path)
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        os.lchown(path, 0, 0)

    def finish(self) -> None:
        """Directory modes and mtimes last: creating their children would have changed them."""
        for path, member in reversed(self._dir_meta.items()):
            os.chmod(path, stat.S_IMODE(member.mode), follow_symlinks=False)
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)


def _safe_mode(member: tarfile.TarInfo) -> int:
    return stat.S_IMODE(member.mode) & ~PRIVILEGE_BITS


def _set_xattrs(target: str | int, member: tarfile.TarInfo) -> None:
    for key, value in member.pax_headers.items():
        if not key.startswith("SCHILY.xattr."):
            continue
        name = key[len("SCHILY.xattr.") :]
        if not name.startswith(KEPT_XATTR_PREFIXES):
            continue
        try:
            os.setxattr(target, name, value.encode("utf-8", "surrogateescape"))
        except OSError:
            continue  # a filesystem without xattrs of that kind: the file is still usable
