"""One live queue: its settings, its in-memory index, FIFO deduplication, and the long-poll wake-up signal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lambkin.queues.attributes import QueueConfig
from lambkin.queues.index import QueueIndex
from lambkin.queues.lifecycle import MessageMeta
from lambkin.queues.storage import DedupEntry, QueueRow

DEDUP_WINDOW = 300.0
PURGE_INTERVAL = 60.0


@dataclass
class Queue:
    """The engine's working state for one queue (not a domain value: it changes with every request)."""

    name: str
    arn: str
    config: QueueConfig
    tags: dict[str, str]
    created_at: int
    modified_at: int
    next_seq: int = 1
    index: QueueIndex = field(init=False)
    dedup: dict[str, DedupEntry] = field(default_factory=dict)
    purged_at: float | None = None
    attempts: dict[str, tuple[float, tuple[MessageMeta, ...]]] = field(default_factory=dict)
    deleted: bool = False
    _signal: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.index = QueueIndex(self.config.fifo)

    @property
    def fifo(self) -> bool:
        return self.config.fifo

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def row(self) -> QueueRow:
        return QueueRow(
            self.name,
            self.fifo,
            self.config.render(),
            dict(self.tags),
            self.created_at,
            self.modified_at,
            self.next_seq,
        )

    def notify(self) -> None:
        """Wakes every long poll waiting on this queue (a message arrived or became available)."""
        self._signal.set()
        self._signal = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Returns when notified or after `seconds`, whichever comes first (a quiet move-on)."""
        signal = self._signal
        try:
            async with asyncio.timeout(seconds):
                await signal.wait()
        except TimeoutError:
            pass

    def duplicate_of(self, key: str, now: float) -> DedupEntry | None:
        entry = self.dedup.get(key)
        if entry is None or entry.expires_at <= now:
            return None
        return entry

    def prune_dedup(self, now: float) -> None:
        for key in [k for k, e in self.dedup.items() if e.expires_at <= now]:
            del self.dedup[key]

    def remember_attempt(self, attempt_id: str, delivered: list[MessageMeta], now: float) -> None:
        self.attempts = {k: v for k, v in self.attempts.items() if v[0] > now}
        self.attempts[attempt_id] = (now + DEDUP_WINDOW, tuple(delivered))

    def repeated_attempt(self, attempt_id: str, now: float) -> tuple[MessageMeta, ...] | None:
        """The messages an earlier receive with this attempt ID got, if none has changed since."""
        entry = self.attempts.get(attempt_id)
        if entry is None or entry[0] <= now:
            return None
        delivered = entry[1]
        if any(self.index.messages.get(m.message_id) != m for m in delivered):
            return None
        return delivered

    def may_purge(self, now: float) -> bool:
        return self.purged_at is None or now - self.purged_at >= PURGE_INTERVAL
