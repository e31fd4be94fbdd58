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
    """Every stored message of one queue, by id, with visibility heaps (standard) or groups (FIFO).

    A standard queue hands out its visible messages oldest first (by sequence), a message visible again
    before the ones sent after it. A FIFO queue hands out its groups in turn (a group served goes behind the
    others), each group's messages in send order up to one in flight or delayed: a group whose first
    message is in flight gives nothing. Rebuilt from the database at start; changed only after the change
    is committed (sends) or alongside it.
    """

    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.messages: dict[str, MessageMeta] = {}
        self._heap: list[tuple[float, int, str]] = []  # standard, hidden for now: (visible_at, seq, id)
        self._ready: list[tuple[int, str]] = []  # standard, visible: (seq, id)
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
        elif not known and meta.visible_at <= meta.sent_at:  # sent without a delay: visible at once
            heapq.heappush(self._ready, (meta.seq, meta.message_id))
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
        self._ready.clear()
        self._groups.clear()
        return gone

    def visible(self, now: float) -> Iterator[MessageMeta]:
        """Visible messages in delivery order, each once; the caller acts on each before asking for more."""
        return self._fifo_visible(now) if self.fifo else self._standard_visible(now)

    def _standard_visible(self, now: float) -> Iterator[MessageMeta]:
        heap, ready, messages = self._heap, self._ready, self.messages
        while heap and heap[0][0] <= now:  # hidden until now: visible in the order they were sent
            visible_at, seq, message_id = heapq.heappop(heap)
            meta = messages.get(message_id)
            if meta is not None and meta.visible_at == visible_at:
                heapq.heappush(ready, (seq, message_id))
        seen: set[str] = set()
        while ready:
            message_id = heapq.heappop(ready)[1]
            meta = messages.get(message_id)
            # gone, hidden again (its hidden entry brings it back), or an entry too many
            if meta is None or meta.visible_at > now or message_id in seen:
                continue
            seen.add(message_id)
            yield meta

    def _fifo_visible(self, now: float) -> Iterator[MessageMeta]:
        groups = self._groups
        for name, group in list(groups.items()):
            served = False
            for message_id in list(group):
                meta = self.messages.get(message_id)
                if meta is None:
                    continue
                if meta.visible_at > now:  # in flight or delayed: the group's later messages wait for it
                    break
                if not served and name in groups:  # the group takes its turn: behind the others from now on
                    served = True
                    groups[name] = groups.pop(name)
                yield meta

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
