"""Log groups and streams on disk: one append-only file of JSON lines per stream, with bounded retention."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO

MAX_OPEN_FILES = 512


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
        return f"{self.timestamp:020d}{abs(hash(self.stream)) % 10**12:012d}{self.seq:010d}"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _unquote(name: str) -> str:
    return urllib.parse.unquote(name)


class LogStore:
    """Writes are appends to a buffered file (flushed at each invocation's end), so they never block long."""

    def __init__(self, root: Path, retention_s: float = 7 * 86400, max_stream_bytes: int = 64 << 20) -> None:
        self.root = root
        self.retention_s = retention_s
        self.max_stream_bytes = max_stream_bytes
        self._files: OrderedDict[tuple[str, str], IO[str]] = OrderedDict()
        self._sizes: dict[tuple[str, str], int] = {}

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
        handle = path.open("a", encoding="utf-8")
        self._sizes[key] = path.stat().st_size
        self._files[key] = handle
        while len(self._files) > MAX_OPEN_FILES:
            old_key, old = self._files.popitem(last=False)
            old.close()
            self._sizes.pop(old_key, None)
        return handle

    def append(self, group: str, stream: str, message: str, timestamp_ms: int | None = None) -> None:
        self.extend(group, stream, (message,), timestamp_ms)

    def extend(
        self, group: str, stream: str, messages: Sequence[str], timestamp_ms: int | None = None
    ) -> None:
        """Appends `messages` in order, in one write, each stamped now (or at `timestamp_ms`)."""
        now = int(time.time() * 1000)
        key = (group, stream)
        handle = self._file(group, stream)
        size = self._sizes.get(key, 0)
        if size > self.max_stream_bytes:
            return  # bounded: a runaway stream stops growing
        # what json.dumps({"t": ..., "m": ..., "i": ...}, ensure_ascii=False) writes, without its encoder
        before, after = f'{{"t": {timestamp_ms or now}, "m": ', f', "i": {now}}}\n'
        records = "".join([before + encode_basestring(message) + after for message in messages])
        handle.write(records)
        self._sizes[key] = size + len(records)

    def flush(self, group: str | None = None, stream: str | None = None) -> None:
        if group is not None and stream is not None:
            handle = self._files.get((group, stream))
            if handle is not None:
                handle.flush()
            return
        for (g, _), handle in self._files.items():
            if group is None or g == group:
                handle.flush()

    def close(self) -> None:
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
