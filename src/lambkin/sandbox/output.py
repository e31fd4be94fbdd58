"""Output capture: a pipe's read end drained by the event loop into an OutputSink, chunk by chunk.

One chunk a turn of the loop: a sandbox writing as fast as it can (100 MB a second) gets the loop's time in
bounded steps, between everything else the loop does, and waits on its full pipe meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import re

from lambkin.sandbox.spec import OutputSink

_CHUNK = 65536
# What tini, the sandboxes' PID 1, writes first when it cannot execute the process it was given.
_TINI = b"[FATAL tini ("
_LINE_LIMIT = 4096
_TINI_EXEC_FAILED = re.compile(rb"\A\[FATAL tini \(\d+\)\] exec (?P<path>.+?) failed: (?P<reason>[^\n]+)\n")


class ExecFailureWatch:
    """A sandbox's stderr sink that recognizes tini's report of a process it could not execute (its first
    output: "[FATAL tini (7)] exec /x failed: No such file or directory", in more than one write). That line
    becomes `failure`, in Lambda's words ("fork/exec /x: no such file or directory"), not the function's
    output; everything else passes on unchanged (what might be the line's start is held until it is not,
    or until `finish()`)."""

    __slots__ = ("_held", "_sink", "failure")

    def __init__(self, sink: OutputSink) -> None:
        self._sink = sink
        self._held: bytes | None = b""  # None once the first output is decided
        self.failure: str | None = None

    def __call__(self, data: bytes) -> None:
        if self._held is not None:
            held = self._held + data
            if b"\n" not in held and len(held) < _LINE_LIMIT and held[: len(_TINI)] == _TINI[: len(held)]:
                self._held = held  # tini's line, perhaps, not yet whole
                return
            self._held = None
            found = _TINI_EXEC_FAILED.match(held)
            if found is not None:
                path, reason = (found[name].decode(errors="replace") for name in ("path", "reason"))
                self.failure = f"fork/exec {path}: {reason[:1].lower()}{reason[1:]}"
                held = held[found.end() :]
            data = held
        if data:
            self._sink(data)

    def finish(self) -> str | None:
        """The process is gone: passes on what is held; returns `failure`."""
        held, self._held = self._held, None
        if held:
            self._sink(held)
        return self.failure


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
