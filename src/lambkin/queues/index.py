"""The in-memory index of one queue's messages: which are visible now, in the order a receive takes them."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from lambkin.queues.lifecycle import MessageMeta, MessageState


@dataclass(frozen=True)
class Counts:
    visible: int
    in_flight: int
    delayed: int


class QueueIndex:
    """Every stored message of one queue, by id, with a visibility heap (standard) or groups (FIFO).

    Rebuilt from SQLite at start; changed only after the change is committed (sends) or alongside it.
    """

    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.messages: dict[str, MessageMeta] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._groups: dict[str, dict[str, None]] = {}

    def __len__(self) -> int:
        return len(self.messages)

    def put(self, meta: MessageMeta) -> None:
        """Adds a message, or replaces what the index knows about it."""
        known = meta.message_id in self.messages
        self.messages[meta.message_id] = meta
        if self.fifo:
            if not known:
                self._groups.setdefault(meta.group_id or "", {})[meta.message_id] = None
        else:
            heapq.heappush(self._heap, (meta.visible_at, meta.seq, meta.message_id))

    def remove(self, message_id: str) -> MessageMeta | None:
        meta = self.messages.pop(message_id, None)
        if meta is not None and self.fifo:
            group = self._groups.get(meta.group_id or "")
            if group is not None:
                group.pop(message_id, None)
                if not group:
                    del self._groups[meta.group_id or ""]
        return meta

    def restore(self, metas: list[MessageMeta]) -> None:
        """Puts back what a failed write had taken out or changed, each FIFO group again in send order."""
        touched: set[str] = set()
        for meta in metas:
            self.put(meta)
            touched.add(meta.group_id or "")
        if self.fifo:
            for name in touched & self._groups.keys():
                ids = sorted(self._groups[name], key=lambda message_id: self.messages[message_id].seq)
                self._groups[name] = dict.fromkeys(ids)

    def clear(self) -> list[MessageMeta]:
        gone = list(self.messages.values())
        self.messages.clear()
        self._heap.clear()
        self._groups.clear()
        return gone

    def visible(self, now: float) -> Iterator[MessageMeta]:
        """Visible messages in delivery order, each once; the caller acts on each before asking for more."""
        return self._fifo_visible(now) if self.fifo else self._standard_visible(now)

    def _standard_visible(self, now: float) -> Iterator[MessageMeta]:
        heap = self._heap
        seen: set[str] = set()
        again: list[tuple[float, int, str]] = []  # made visible at once by this very pass: keep for the next
        try:
            while heap and heap[0][0] <= now:
                entry = heapq.heappop(heap)
                meta = self.messages.get(entry[2])
                if meta is None or meta.visible_at != entry[0]:
                    continue
                if entry[2] in seen:
                    again.append(entry)
                    continue
                seen.add(entry[2])
                yield meta
        finally:
            for entry in again:
                heapq.heappush(heap, entry)

    def _fifo_visible(self, now: float) -> Iterator[MessageMeta]:
        for group in list(self._groups.values()):
            ids = list(group)
            if self._group_locked(ids, now):
                continue
            for message_id in ids:
                meta = self.messages.get(message_id)
                if meta is None:
                    continue
                if meta.visible_at > now:
                    break
                yield meta

    def _group_locked(self, ids: list[str], now: float) -> bool:
        """A FIFO group with a message in flight delivers nothing else until it is deleted or visible again."""
        for message_id in ids:
            meta = self.messages.get(message_id)
            if meta is None:
                continue
            if not meta.receive_count:
                return False
            if meta.visible_at > now:
                return True
        return False

    def counts(self, now: float) -> Counts:
        visible = in_flight = delayed = 0
        for meta in self.messages.values():
            state = meta.state(now)
            if state is MessageState.VISIBLE:
                visible += 1
            elif state is MessageState.IN_FLIGHT:
                in_flight += 1
            else:
                delayed += 1
        return Counts(visible, in_flight, delayed)

    def next_visible_at(self, now: float) -> float | None:
        """When the next hidden message becomes visible, for a long poll to wake then."""
        later = [m.visible_at for m in self.messages.values() if m.visible_at > now]
        return min(later) if later else None

    def expired(self, now: float, retention: int) -> list[MessageMeta]:
        return [meta for meta in self.messages.values() if meta.expired(now, retention)]
