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
        """A chunk of output: its whole lines go to the store together, as one write."""
        data = self._partial.pop(fd, b"") + chunk
        *lines, rest = data.split(b"\n")
        events: list[str] = []
        for line in lines:
            if len(line) <= EVENT_BYTES:
                events.append(line.rstrip(b"\r").decode("utf-8", errors="replace"))
            else:
                events += _pieces(line.rstrip(b"\r"))
        while len(rest) >= EVENT_BYTES:  # a line still without its end: what fills an event goes now
            events.append(rest[:EVENT_BYTES].decode("utf-8", errors="replace"))
            rest = rest[EVENT_BYTES:]
        if rest:
            self._partial[fd] = rest
        self._lines(events)
        watch = self.store.watch
        if watch is not None and events:
            watch(self.group, events)

    def platform(self, *lines: str) -> None:
        """Platform lines (START, END, REPORT, ...), in order, in one write."""
        self._lines(list(lines))

    def _lines(self, texts: list[str]) -> None:
        if not texts:
            return
        self.store.extend(self.group, self.stream, texts)
        capture = self._capture
        if capture is None:
            return
        last: list[bytes] = []  # only the last lines of many can be in the tail
        size = 0
        for text in reversed(texts):
            last.append((text + "\n").encode())
            size += len(last[-1])
            if size >= TAIL_BYTES:
                break
        for raw in reversed(last):
            capture.append(raw)
            self._captured += len(raw)
            while self._captured - len(capture[0]) >= TAIL_BYTES and len(capture) > 1:
                self._captured -= len(capture.pop(0))

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
            self._lines(_pieces(self._partial.pop(fd)))
        captured = b"".join(self._capture or [])
        self._capture = None
        return captured[-TAIL_BYTES:]


def _pieces(line: bytes) -> list[str]:
    """One line of output as events of at most EVENT_BYTES (an empty line is one empty event)."""
    return [
        line[start : start + EVENT_BYTES].decode("utf-8", errors="replace")
        for start in range(0, max(len(line), 1), EVENT_BYTES)
    ]


class _Sink:
    """A sandbox OutputSink bound to one of the stream's file descriptors."""

    __slots__ = ("fd", "stream")

    def __init__(self, stream: LogStream, fd: int) -> None:
        self.stream = stream
        self.fd = fd

    def __call__(self, chunk: bytes) -> None:
        self.stream.output(self.fd, chunk)
