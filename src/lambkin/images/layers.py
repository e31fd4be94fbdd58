"""The shared layer store: each layer unpacked once, keyed by its diff ID, read-only, shared by every image."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from lambkin.images.blobs import BlobStore, check_digest
from lambkin.images.unpack import ImageBudget, UnpackStats, unpack_file

log = logging.getLogger("lambkin.images")

STAGING = ".staging"


class KeyedLock:
    """One asyncio lock per key, forgotten once nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class LayerStore:
    """Unpacked layers under `root/<hex of diff ID>`; unpacks in flight under `root/.staging/<pid>-<uuid>`.

    A layer directory appears under its final name only once complete and verified against its diff ID
    (unpack into staging, then rename), so a crash or a hostile layer never leaves a half-written layer.
    Directory names are the bare hex digest, short enough to keep overlayfs' `lowerdir` option small.
    """

    def __init__(self, root: Path, blobs: BlobStore) -> None:
        self.root = root
        self.blobs = blobs
        self.staging = root / STAGING
        self.staging.mkdir(parents=True, exist_ok=True)
        self._locks = KeyedLock()
        self._remove_abandoned_staging()

    def path(self, diff_id: str) -> Path:
        return self.root / check_digest(diff_id).split(":", 1)[1]

    def exists(self, diff_id: str) -> bool:
        return self.path(diff_id).is_dir()

    def diff_ids(self) -> Iterator[str]:
        for entry in sorted(self.root.iterdir()):
            if not entry.name.startswith("."):
                yield "sha256:" + entry.name

    async def ensure(self, blob_digest: str, diff_id: str, budget: ImageBudget | None = None) -> Path:
        """The unpacked directory of a layer, unpacking the blob first if no image has needed it yet.

        Concurrent calls for the same diff ID unpack it once; the others wait and share the result. Only an
        unpack charges `budget`: a layer already in the store passed its first image's limits.
        """
        async with self._locks.hold(diff_id):
            if self.exists(diff_id):
                return self.path(diff_id)
            return await asyncio.to_thread(self.unpack, blob_digest, diff_id, budget)

    def unpack(self, blob_digest: str, diff_id: str, budget: ImageBudget | None = None) -> Path:
        """Blocking: unpacks one layer blob into place (no-op if present). Raises LayerRejected."""
        final = self.path(diff_id)
        if final.is_dir():
            return final
        stats = self.unpack_to_staging(blob_digest, diff_id, final, budget)
        log.info(
            "unpacked layer %s: %d entries, %d bytes, %d device nodes skipped",
            diff_id,
            stats.entries,
            stats.size,
            stats.skipped_devices,
        )
        return final

    def unpack_to_staging(
        self, blob_digest: str, diff_id: str, final: Path, budget: ImageBudget | None = None
    ) -> UnpackStats:
        staged = self.staging / f"{os.getpid()}-{uuid.uuid4().hex}"
        staged.mkdir()
        try:
            stats = unpack_file(self.blobs.path(blob_digest), staged, expected_diff_id=diff_id, budget=budget)
            _syncfs(staged)
            try:
                os.rename(staged, final)
            except OSError:
                if not final.is_dir():  # not just another process finishing the same layer first
                    raise
                _remove(staged)
        except BaseException:
            _remove(staged)
            raise
        return stats

    def remove(self, diff_id: str) -> None:
        """Deletes one unpacked layer (the caller knows no image or sandbox uses it)."""
        final = self.path(diff_id)
        if final.is_dir():
            doomed = self.staging / f"{os.getpid()}-{uuid.uuid4().hex}"
            os.rename(final, doomed)
            _remove(doomed)

    def _remove_abandoned_staging(self) -> None:
        """Removes staging directories of processes that are gone (a crash in mid-unpack)."""
        for entry in self.staging.iterdir():
            pid = entry.name.split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                _remove(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _syncfs(path: Path) -> None:
    """Flushes the filesystem holding `path`, so a layer renamed into place survives a crash whole."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc().syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
