"""What the CloudWatch Logs API reads: log groups, streams and events, here (`LocalLogs`) or across a
cluster's nodes (api/cluster_logs.py), each stream living on the node whose environment wrote it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from lambkin.logs.store import LogEvent, LogStore


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Events of one group from `start_ms` (to `end_ms`), of one stream or all, holding `contains`."""

    group: str
    stream: str | None = None
    start_ms: int = 0
    end_ms: int | None = None
    contains: str | None = None


class LogReader(Protocol):
    async def groups(self) -> list[str]: ...

    async def streams(self, group: str) -> list[tuple[str, float]]:
        """(name, last write time), oldest first."""
        ...

    async def events(self, query: EventQuery) -> list[LogEvent]:
        """In time order."""
        ...


class LocalLogs:
    """This node's log store, read off the event loop (its buffered lines flushed first, on the loop)."""

    def __init__(self, store: LogStore) -> None:
        self.store = store

    async def groups(self) -> list[str]:
        return self.store.groups()

    async def streams(self, group: str) -> list[tuple[str, float]]:
        return self.store.streams(group)

    async def events(self, query: EventQuery) -> list[LogEvent]:
        self.store.flush(query.group)
        return await asyncio.to_thread(
            lambda: list(
                self.store.events(query.group, query.stream, query.start_ms, query.end_ms, query.contains)
            )
        )
