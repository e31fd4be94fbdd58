"""One environment's log stream: the runtime's output split into lines, platform lines, and each invocation's tail."""

from __future__ import annotations

from lambkin.logs.store import LogStore

TAIL_BYTES = 4096
# A log event's most bytes: CloudWatch Logs' 256 KB an event, less its 26 bytes of overhead. A longer line is
# split into events of this size.
EVENT_BYTES = 256 * 1024 - 26


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
            self._event(line.rstrip(b"\r"))
        while len(rest) >= EVENT_BYTES:  # a line still without its end: what fills an event goes now
            self._line(rest[:EVENT_BYTES].decode("utf-8", errors="replace"))
            rest = rest[EVENT_BYTES:]
        if rest:
            self._partial[fd] = rest

    def _event(self, line: bytes) -> None:
        """One line of output, as one event or, past EVENT_BYTES, as several."""
        for start in range(0, max(len(line), 1), EVENT_BYTES):
            self._line(line[start : start + EVENT_BYTES].decode("utf-8", errors="replace"))

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

    def end(self) -> bytes:
        """Stops capturing; returns the invocation's last 4 KB of log. (The pools' housekeeping flushes the
        store every tick, and readers flush before reading.)"""
        for fd in list(self._partial):
            self._event(self._partial.pop(fd))
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
