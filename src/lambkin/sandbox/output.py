"""Output capture: a pipe's read end drained by the event loop into an OutputSink, chunk by chunk.

One chunk a turn of the loop: a sandbox writing as fast as it can (100 MB a second) gets the loop's time in
bounded steps, between everything else the loop does, and waits on its full pipe meanwhile.
"""

from __future__ import annotations

import asyncio
import os

from lambkin.sandbox.spec import OutputSink

_CHUNK = 65536


class PipeReader:
    """Reads one non-blocking pipe with `loop.add_reader` (no transport, no task: a few hundred bytes each)."""

    __slots__ = ("_closed", "_fd", "_loop", "_sink")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, sink: OutputSink) -> None:
        os.set_blocking(fd, False)
        self._loop = loop
        self._fd = fd
        self._sink = sink
        self._closed = False
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        self._read()

    def _read(self) -> bool:
        """Passes on one chunk; whether the pipe may hold more (closed at end of file)."""
        try:
            data = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self._sink(data)
        return len(data) == _CHUNK

    def drain(self) -> None:
        """Passes on everything the pipe holds right now (its writers are gone); closes it at end of file."""
        while not self._closed and self._read():
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
