"""A read-ahead stream: decompresses and hashes a layer in a second thread while the unpacker writes files."""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Protocol

CHUNK = 1 << 20
DEPTH = 8  # chunks decompressed ahead: at most 8 MiB in memory


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ReadAhead:
    """Reads `inner` to its end in a worker thread, hashing what it reads, `DEPTH` chunks ahead.

    zlib, zstd and sha256 release the GIL, so inflating overlaps the unpacker's file writes, as GNU
    tar overlaps with its gzip child. Use as a context manager: leaving it stops the worker (even
    mid-stream, when a hostile layer is rejected) before `inner` is closed. Errors of the worker are
    raised by `read`.
    """

    def __init__(self, inner: Readable) -> None:
        self._inner = inner
        self._chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=DEPTH)
        self._hash = hashlib.sha256()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="lambkin-readahead", daemon=True)
        self._current = memoryview(b"")
        self._eof = False

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # a worker waiting to put sees it within one poll, then ends
        self._thread.join()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._inner.read(CHUNK)
                if chunk:
                    self._hash.update(chunk)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._chunks.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes (at most one chunk: short reads are normal); b"" at the end."""
        if not self._current:
            if self._eof:
                return b""
            item = self._chunks.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                return b""
            self._current = memoryview(item)
        if size < 0 or size >= len(self._current):
            data, self._current = self._current, memoryview(b"")
        else:
            data, self._current = self._current[:size], self._current[size:]
        return bytes(data)

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def digest(self) -> str:
        """The sha256 of everything read; complete once `read` has returned b""."""
        return "sha256:" + self._hash.hexdigest()
