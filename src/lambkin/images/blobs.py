"""Content-addressed blob storage: files named by their sha256 digest, verified on every write."""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
CHUNK = 1 << 20
BATCH = 4 << 20  # bytes gathered from the socket before one write+hash step off the loop


class DigestMismatch(ValueError):
    """The content written does not hash to the digest it was announced under."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, content hashes to {actual}")
        self.expected = expected
        self.actual = actual


class InvalidDigest(ValueError):
    """A string that is not a `sha256:<64 hex>` digest."""


def check_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise InvalidDigest(f"invalid digest {digest!r}: expected sha256:<64 lowercase hex digits>")
    return digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs under `root/sha256/<hh>/<hex>`; staging files under `root/staging/`.

    A blob appears under its final name only once its content is complete and verified (write to a
    staging file, fsync, rename), so a crash never leaves a blob whose content does not match its name.
    These methods do blocking I/O: call them from a worker thread, never on the event loop.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)
        (root / "sha256").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        hexdigest = check_digest(digest).split(":", 1)[1]
        return self.root / "sha256" / hexdigest[:2] / hexdigest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        """Stores `data`; returns its digest. Raises DigestMismatch if it is not `expected`."""
        digest = sha256_digest(data)
        if expected is not None and expected != digest:
            raise DigestMismatch(expected, digest)
        if not self.exists(digest):
            staged = self.new_staging_path()
            try:
                with staged.open("wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                self._commit(staged, digest)
            except BaseException:
                staged.unlink(missing_ok=True)  # a full disk leaves no partial staging file behind
                raise
        return digest

    def new_staging_path(self) -> Path:
        return self.staging / uuid.uuid4().hex

    def adopt(self, staged: Path, digest: str) -> None:
        """Makes a staging file whose digest the caller computed while writing it the blob `digest`.

        Durable before it appears (fsync, then rename); if the blob is already stored, the staging file
        is simply removed.
        """
        check_digest(digest)
        if self.exists(digest):
            staged.unlink(missing_ok=True)
            return
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._commit(staged, digest)

    def _commit(self, staged: Path, digest: str) -> None:
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def digests(self) -> Iterator[str]:
        for prefix in sorted((self.root / "sha256").iterdir()):
            for blob in sorted(prefix.iterdir()):
                yield "sha256:" + blob.name


_SYNC_FILE_RANGE_WRITE = 2
_libc: Any = None


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Asks the kernel to start writing a just-written range to disk now, without waiting for it.

    Called as an upload streams in, so the fsync that makes the finished blob durable has little left to
    do. Linux's sync_file_range(2), through libc; a no-op where that is missing.
    """
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


async def write_stream(
    path: Path, offset: int, hasher: Any, chunks: AsyncIterator[bytes], create: bool = True
) -> int:
    """Streams `chunks` into `path` from `offset`, hashing as it goes; returns the bytes written.

    Gathers the request body into batches and writes+hashes each batch on a worker thread while the
    next one arrives, so the event loop never waits on the disk and memory stays at two batches.
    """
    loop = asyncio.get_running_loop()
    fd = await asyncio.to_thread(os.open, path, os.O_WRONLY | (os.O_CREAT if create else 0), 0o600)
    written = 0
    pending: asyncio.Future[None] | None = None
    try:
        batch: list[bytes] = []
        batched = 0
        async for chunk in chunks:
            batch.append(chunk)
            batched += len(chunk)
            if batched >= BATCH:
                if pending is not None:
                    await pending
                pending = loop.run_in_executor(None, _write_batch, fd, offset + written, hasher, batch)
                written += batched
                batch, batched = [], 0
        if pending is not None:
            await pending
            pending = None
        if batch:
            await asyncio.to_thread(_write_batch, fd, offset + written, hasher, batch)
            written += batched
    finally:
        if pending is not None:
            # Never leave a write running on a file that the caller may truncate next.
            await asyncio.wait([pending])
        os.close(fd)
    return written


def _write_batch(fd: int, offset: int, hasher: Any, batch: list[bytes]) -> None:
    data = b"".join(batch)
    hasher.update(data)
    view = memoryview(data)
    start = offset
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n
    start_writeback(fd, start, len(data))
