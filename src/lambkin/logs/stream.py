"""One environment's log stream: the runtime's output split into lines, platform lines, and each invocation's tail."""

from __future__ import annotations

from lambkin.logs.store import LogStore

TAIL_BYTES = 4096
_MAX_PARTIAL = 256 * 1024


class LogStream:
    """Receives the sandbox's stdout/stderr chunks (`sink`) and platform lines (`platform`).

    Between `begin()` and `end()` every line is also kept for LogType=Tail: `end()` returns the last 4 KB.
    """

    def __init__(self, store: LogStore, group: str, stream: str) -> None:
        self.store = store
        self.group = group
        self.stream = stream
        self._partial: dict[int, bytes] = {}
        self._capture: list[bytes] | None = None
        self._captured = 0

    def sink(self, fd: int) -> _Sink:
        return _Sink(self, fd)

    def output(self, fd: int, chunk: bytes) -> None:
        data = self._partial.pop(fd, b"") + chunk
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._line(line.rstrip(b"\r").decode("utf-8", errors="replace"))
        if len(rest) > _MAX_PARTIAL:
            self._line(rest.decode("utf-8", errors="replace"))
        elif rest:
            self._partial[fd] = rest

    def platform(self, line: str) -> None:
        self._line(line)

    def _line(self, text: str) -> None:
        self.store.append(self.group, self.stream, text)
        if self._capture is not None:
            raw = (text + "\n").encode()
            self._capture.append(raw)
            self._captured += len(raw)
            while self._captured - len(self._capture[0]) >= TAIL_BYTES and len(self._capture) > 1:
                self._captured -= len(self._capture.pop(0))

    def begin(self) -> None:
        """Starts capturing (a capture already under way, such as init's output, carries on)."""
        if self._capture is None:
            self._capture = []
            self._captured = 0

    def carry(self, earlier: bytes) -> None:
        """Starts capturing with `earlier` (another stream's tail, such as an init that timed out) first."""
        self.begin()
        if earlier and self._capture is not None:
            self._capture.insert(0, earlier)
            self._captured += len(earlier)

    def end(self) -> bytes:
        """Stops capturing; returns the invocation's last 4 KB of log. (The pools' housekeeping flushes the
        store every tick, and readers flush before reading.)"""
        for fd in list(self._partial):
            self._line(self._partial.pop(fd).decode("utf-8", errors="replace"))
        captured = b"".join(self._capture or [])
        self._capture = None
        return captured[-TAIL_BYTES:]


class _Sink:
    """A sandbox OutputSink bound to one of the stream's file descriptors."""

    __slots__ = ("fd", "stream")

    def __init__(self, stream: LogStream, fd: int) -> None:
        self.stream = stream
        self.fd = fd

    def __call__(self, chunk: bytes) -> None:
        self.stream.output(self.fd, chunk)
