"""A .zip package (function code or a layer) checked and turned into an uncompressed tar image layer.

The checks are the image layers' (`images.unpack.clean_parts`: no absolute paths, no `..`, no NUL), plus
what a zip adds: symbolic links must point inside the package, nothing may go through one, and the
package must unpack within Lambda's size (250 MB unzipped, its layers included) and the server's file
count. Every refusal is a `PackageRejected`, a `LayerRejected` as hostile image layers are.
"""

from __future__ import annotations

import hashlib
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from io import BytesIO
from typing import IO, Protocol, cast

from lambkin.images.unpack import LayerRejected, clean_parts

UNZIPPED_LIMIT = 262_144_000  # Lambda's: a function's code and its layers, unzipped
ZIPPED_LIMIT = 52_428_800  # Lambda's direct upload (Code.ZipFile, Content.ZipFile)
MAX_FILES = 100_000  # entries of one package; the server's image file limit also counts
CHUNK = 1 << 20
_SYMLINK_MAX = 4096


class Sink(Protocol):
    """Where a layer is written: any stream with `write`."""

    def write(self, data: bytes, /) -> int: ...


class PackageRejected(LayerRejected):
    """A package that is not a readable zip, is hostile (paths or links escaping), or is too big."""


class PackageTooLarge(PackageRejected):
    """A package (with its layers) that unzips past Lambda's 250 MB."""


@dataclass(frozen=True)
class Package:
    """A zip as Lambda reports it (CodeSha256: base64 of its SHA-256; CodeSize: its bytes) and its size unzipped."""

    sha256_hex: str
    size: int
    unzipped_size: int
    entries: int


def measure(data: bytes, budget: int = UNZIPPED_LIMIT, max_files: int = MAX_FILES) -> Package:
    """Checks the zip's directory (names, links' kinds, declared sizes) without unpacking; raises PackageRejected."""
    with _open(data) as archive:
        infos = archive.infolist()
        if len(infos) > max_files:
            raise PackageRejected(f"the package holds {len(infos)} entries; at most {max_files} are allowed")
        unzipped = 0
        for info in infos:
            _parts(info.filename)
            unzipped += info.file_size
        if unzipped >= budget:
            raise PackageTooLarge(f"Unzipped size must be smaller than {budget} bytes")
    return Package(hashlib.sha256(data).hexdigest(), len(data), unzipped, len(infos))


def to_layer(data: bytes, prefix: str, out: Sink, also: tuple[str, ...] = ()) -> int:
    """Writes the zip `data` as a tar layer rooted at `prefix` (`var/task` or `opt`) to `out`, with the empty
    directories `also` beside it; returns the bytes of file content written. Blocking: run it in a thread.
    Raises PackageRejected."""
    with (
        _open(data) as archive,
        tarfile.open(fileobj=cast(IO[bytes], out), mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        written = 0
        for directory in also:
            tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755))
        top: tuple[str, ...] = ()
        for part in prefix.split("/"):
            top = (*top, part)
            tar.addfile(_info("/".join(top), tarfile.DIRTYPE, 0o755))
        links: set[tuple[str, ...]] = set()
        for entry in archive.infolist():
            parts = _parts(entry.filename)
            if not parts:
                continue
            for depth in range(1, len(parts)):
                if parts[:depth] in links:
                    raise PackageRejected(
                        f"{entry.filename!r}: path goes through the symbolic link {'/'.join(parts[:depth])}"
                    )
            name = "/".join((*top, *parts))
            mode = entry.external_attr >> 16
            if entry.is_dir() or stat.S_ISDIR(mode):
                tar.addfile(_info(name, tarfile.DIRTYPE, _permissions(mode, 0o755)))
                continue
            if stat.S_ISLNK(mode):
                target = _link_target(archive, entry, parts)
                info = _info(name, tarfile.SYMTYPE, 0o777)
                info.linkname = target
                tar.addfile(info)
                links.add(parts)
                continue
            info = _info(name, tarfile.REGTYPE, _permissions(mode, 0o644))
            info.size = entry.file_size
            with archive.open(entry) as source:
                tar.addfile(info, _Exact(source, entry.file_size, entry.filename))
            written += entry.file_size
            links.discard(parts)
    return written


def _parts(name: str) -> tuple[str, ...]:
    """The image layers' path check, its refusal a PackageRejected."""
    try:
        return clean_parts(name)
    except LayerRejected as exc:
        raise PackageRejected(str(exc)) from exc


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise PackageRejected(f"not a readable zip: {exc}") from exc


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    return info


def _permissions(mode: int, default: int) -> int:
    """The entry's permission bits (setuid/setgid/sticky dropped), readable by all; `default` if the zip has none."""
    bits = stat.S_IMODE(mode) & 0o777
    return (bits | 0o444) if bits else default


def _link_target(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, parts: tuple[str, ...]) -> str:
    """A symbolic link's target (the entry's content), refused if it points outside the package."""
    if entry.file_size > _SYMLINK_MAX:
        raise PackageRejected(f"{entry.filename!r}: symbolic link target of {entry.file_size} bytes")
    try:
        target = archive.read(entry).decode()
    except (zipfile.BadZipFile, UnicodeDecodeError, OSError) as exc:
        raise PackageRejected(f"{entry.filename!r}: unreadable symbolic link: {exc}") from exc
    if target.startswith("/") or "\0" in target or _climbs_out(len(parts) - 1, target):
        raise PackageRejected(f"{entry.filename!r}: symbolic link to {target!r} points outside the package")
    return target


def _climbs_out(depth: int, target: str) -> bool:
    """Whether a relative link `depth` directories below the package root leaves it."""
    for component in target.split("/"):
        if component == "..":
            depth -= 1
            if depth < 0:
                return True
        elif component not in ("", "."):
            depth += 1
    return False


class _Exact:
    """A zip member's stream that must yield exactly its declared size (a lying header is a broken zip)."""

    def __init__(self, source: IO[bytes], size: int, name: str) -> None:
        self.source = source
        self.left = size
        self.name = name

    def read(self, size: int = -1) -> bytes:
        want = self.left if size < 0 else min(size, self.left)
        try:
            chunk = self.source.read(want) if want else b""
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise PackageRejected(f"{self.name!r}: {exc}") from exc
        if len(chunk) < want:
            raise PackageRejected(f"{self.name!r}: shorter than its declared size")
        self.left -= len(chunk)
        return chunk
