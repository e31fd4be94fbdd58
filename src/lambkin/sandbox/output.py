"""Output capture: a pipe's read end drained by the event loop into an OutputSink, chunk by chunk."""

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
        self.drain()

    def drain(self) -> None:
        """Passes on everything the pipe holds right now; closes it at end of file."""
        while not self._closed:
            try:
                data = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self._sink(data)
            if len(data) < _CHUNK:
                return

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
