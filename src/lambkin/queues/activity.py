"""What each queue's requests did since the last look: messages sent (and their sizes), received and deleted,
and receives that found nothing, the counters behind AWS/SQS's NumberOf* metrics and SentMessageSize.

Plain integers added on the event loop, their only writer, by the request that did the work; the reader (the
metrics sampler, on the loop too) takes them all at once with `QueueActivities.take()`, which swaps in fresh
ones: no lock, no copy, nothing written to the database per message.
"""

from __future__ import annotations


class QueueActivity:
    """One queue's counts since they were last taken."""

    __slots__ = ("deleted", "empty_receives", "largest", "received", "sent", "sent_bytes", "smallest")

    def __init__(self) -> None:
        self.sent = 0
        self.sent_bytes = 0
        self.smallest = 0  # of the messages sent (0 while none was)
        self.largest = 0
        self.received = 0
        self.deleted = 0
        self.empty_receives = 0

    def sent_one(self, size: int) -> None:
        """One message added to the queue, `size` bytes (body and attributes, as SQS measures it)."""
        if not self.sent or size < self.smallest:
            self.smallest = size
        if size > self.largest:
            self.largest = size
        self.sent += 1
        self.sent_bytes += size

    def answered(self, count: int) -> None:
        """One receive answered with `count` messages (none: an empty receive)."""
        if count:
            self.received += count
        else:
            self.empty_receives += 1


class QueueActivities:
    """Every queue's counts, by queue name, made on first use."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, QueueActivity] = {}

    def of(self, queue: str) -> QueueActivity:
        counts = self._counts.get(queue)
        if counts is None:
            counts = self._counts[queue] = QueueActivity()
        return counts

    def forget(self, queue: str) -> None:
        """Drops a deleted queue's counts (the next sampler look would have; with metrics off none looks)."""
        self._counts.pop(queue, None)

    def take(self) -> dict[str, QueueActivity]:
        """Every queue's counts since the last take; counting starts again from zero."""
        taken, self._counts = self._counts, {}
        return taken
