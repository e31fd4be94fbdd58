"""Log groups and streams on disk: one append-only file of JSON lines per stream, with bounded retention."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import urllib.parse
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO

MAX_OPEN_FILES = 512
_TAIL_SCAN = 1 << 20  # a torn last line is looked for this far back

log = logging.getLogger("lambkin.logs")


@dataclass(frozen=True)
class LogEvent:
    group: str
    stream: str
    timestamp: int  # epoch milliseconds
    message: str
    ingestion_time: int
    seq: int  # the line's index in its stream

    @property
    def event_id(self) -> str:
        """The same on every node and after a restart (the stream's CRC, not Python's salted hash)."""
        return f"{self.timestamp:020d}{zlib.crc32(self.stream.encode()):012d}{self.seq:010d}"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _unquote(name: str) -> str:
    return urllib.parse.unquote(name)


class LogStore:
    """Writes are appends to a buffered file (flushed at each invocation's end), so they never block long.

    A write the disk cannot take (full, or failing) never reaches the caller: a function's output and its
    invoke go on, the stream's buffered lines are dropped, and once a write succeeds again the stream says
    how many lines it lost. A line torn by such a failure (or a crash) is cut off when the file is opened
    again, so every line a reader sees is whole.
    """

    def __init__(
        self,
        root: Path,
        retention_s: float = 7 * 86400,
        max_stream_bytes: int = 64 << 20,
        watch: Callable[[str, Sequence[str]], None] | None = None,
    ) -> None:
        self.root = root
        self.watch = watch  # shown every function's output lines, by group (embedded metrics)
        self.retention_s = retention_s
        self.max_stream_bytes = max_stream_bytes
        self._files: OrderedDict[tuple[str, str], IO[str]] = OrderedDict()
        self._sizes: dict[tuple[str, str], int] = {}
        self._unflushed: dict[tuple[str, str], int] = {}  # lines given to the buffer since its last flush
        self._lost: dict[tuple[str, str], tuple[int, str]] = {}  # lines dropped, and why

    def _path(self, group: str, stream: str) -> Path:
        return self.root / _quote(group) / (_quote(stream) + ".jsonl")

    def _file(self, group: str, stream: str) -> IO[str]:
        key = (group, stream)
        handle = self._files.get(key)
        if handle is not None:
            self._files.move_to_end(key)
            return handle
        path = self._path(group, stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_line(path)
        handle = path.open("a", encoding="utf-8")
        self._sizes[key] = path.stat().st_size
        self._files[key] = handle
        self._unflushed[key] = 0
        while len(self._files) > MAX_OPEN_FILES:
            old_key = next(iter(self._files))
            self._flush(old_key)
            old = self._files.pop(old_key, None)
            if old is not None:
                old.close()
            self._sizes.pop(old_key, None)
        if key in self._lost:
            lost, reason = self._lost[key]
            notice = _records([f"lambkin: up to {lost} log lines were lost here ({reason})"])
            self._write(key, handle, notice, 0)
        return handle

    def append(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        self.extend(group, stream, (message,), timestamp_ms)

    def extend(
        self, group: str, stream: str, messages: Sequence[str], timestamp_ms: int | None = None
    ) -> None:
        """Appends `messages` in order, in one write, each stamped now (or at `timestamp_ms`)."""
        key = (group, stream)
        try:
            handle = self._file(group, stream)
        except OSError as exc:
            self._drop(key, exc, len(messages))
            return
        if key not in self._files:  # dropped again while its loss was being noted
            return
        if self._sizes[key] > self.max_stream_bytes:
            return  # bounded: a runaway stream stops growing
        self._write(key, handle, _records(messages, timestamp_ms), len(messages))

    def _write(self, key: tuple[str, str], handle: IO[str], records: str, lines: int = 1) -> None:
        """Buffers records; `lines`: how many of a function's lines they hold, lost if the buffer is (0 for a
        notice of lambkin's own)."""
        try:
            handle.write(records)
        except OSError as exc:
            self._drop(key, exc, lines)
            return
        self._sizes[key] = self._sizes.get(key, 0) + len(records)
        self._unflushed[key] = self._unflushed.get(key, 0) + lines

    def flush(self, group: str | None = None, stream: str | None = None) -> None:
        """Writes buffered lines out; a stream whose write fails loses them (see the class)."""
        if group is not None and stream is not None:
            self._flush((group, stream))
            return
        for key in [k for k in self._files if group is None or k[0] == group]:
            self._flush(key)

    def _flush(self, key: tuple[str, str]) -> None:
        handle = self._files.get(key)
        if handle is None:
            return
        try:
            handle.flush()
        except OSError as exc:
            self._drop(key, exc, 0)
            return
        self._unflushed[key] = 0
        self._lost.pop(key, None)

    def _drop(self, key: tuple[str, str], exc: OSError, more: int) -> None:
        """Closes a stream whose write failed, counting the lines its buffer held as lost."""
        handle = self._files.pop(key, None)
        if handle is not None:
            with contextlib.suppress(OSError):  # the buffer cannot be written: closing discards it
                handle.close()
        self._sizes.pop(key, None)
        lost = self._unflushed.pop(key, 0) + more
        before, _ = self._lost.get(key, (0, ""))
        if before == 0:
            log.warning("log stream %s %s: %s; its lines are dropped until a write succeeds", *key, exc)
        self._lost[key] = (before + lost, exc.strerror or str(exc))

    def close(self) -> None:
        self.flush()
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def groups(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(_unquote(p.name) for p in self.root.iterdir() if p.is_dir())

    def streams(self, group: str) -> list[tuple[str, float]]:
        """Stream names of a group with their last write time, oldest first."""
        folder = self.root / _quote(group)
        if not folder.exists():
            return []
        found = [(_unquote(p.name[: -len(".jsonl")]), p.stat().st_mtime) for p in folder.glob("*.jsonl")]
        return sorted(found, key=lambda item: item[1])

    def events(
        self,
        group: str,
        stream: str | None = None,
        start_ms: int = 0,
        end_ms: int | None = None,
        contains: str | None = None,
    ) -> Iterator[LogEvent]:
        """Events of one stream, or of every stream of the group ordered by time, from `start_ms`.

        Reads files: call `flush(group)` on the loop first, then this off the loop.
        """
        names = (
            [stream]
            if stream is not None
            else [s for s, mtime in self.streams(group) if mtime * 1000 >= start_ms]
        )
        found: list[LogEvent] = []
        for name in names:
            path = self._path(group, name)
            if not path.exists():
                continue
            with path.open(encoding="utf-8") as lines:
                for seq, line in enumerate(lines):
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if (
                        record["t"] < start_ms
                        or (end_ms is not None and record["t"] >= end_ms)
                        or (contains and contains not in record["m"])
                    ):
                        continue
                    found.append(LogEvent(group, name, record["t"], record["m"], record["i"], seq))
        found.sort(key=lambda event: (event.timestamp, event.ingestion_time))
        return iter(found)

    def expire(self, now: float | None = None) -> int:
        """Deletes streams not written for longer than the retention period; returns how many."""
        cutoff = (now if now is not None else time.time()) - self.retention_s
        removed = 0
        for group in self.groups():
            for name, mtime in self.streams(group):
                if mtime < cutoff and (group, name) not in self._files:
                    os.unlink(self._path(group, name))
                    removed += 1
        return removed


def _records(messages: Sequence[str], timestamp_ms: int | None = None) -> str:
    """Stream lines, one per message: what json.dumps({"t": ..., "m": ..., "i": ...}, ensure_ascii=False)
    writes for each, without its encoder."""
    now = int(time.time() * 1000)
    before, after = f'{{"t": {timestamp_ms or now}, "m": ', f', "i": {now}}}\n'
    return "".join([before + encode_basestring(message) + after for message in messages])


def _cut_torn_line(path: Path) -> None:
    """Cuts a last line without its newline (a write the disk stopped halfway) off the stream's file."""
    try:
        out = path.open("rb+")
    except FileNotFoundError:
        return
    with out:
        size = out.seek(0, os.SEEK_END)
        if size == 0:
            return
        start = max(0, size - _TAIL_SCAN)
        out.seek(start)
        tail = out.read()
        if tail.endswith(b"\n"):
            return
        out.truncate(start + tail.rfind(b"\n") + 1)
