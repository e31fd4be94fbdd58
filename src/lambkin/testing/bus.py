"""A bus of one test's nodes: what is announced is kept until `deliver()` hands it to every subscriber."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from lambkin.cluster.bus import EVERYTHING
from lambkin.store import Connection


class FakeBus:
    """Every service built with this bus is one node of the same cluster: as PostgreSQL's NOTIFY does, news
    reaches every subscriber, the announcer's own too (but only when the test says: `deliver()`)."""

    def __init__(self) -> None:
        self.subscribers: dict[str, list[Callable[[str], None]]] = defaultdict(list)
        self.announced: list[tuple[str, str]] = []

    def announce(self, conn: Connection, topic: str, key: str = "") -> None:
        self.announced.append((topic, key))

    def subscribe(self, topic: str, callback: Callable[[str], None]) -> None:
        self.subscribers[topic].append(callback)

    async def run(self) -> None:
        return None

    def deliver(self) -> list[tuple[str, str]]:
        """Hands every announcement so far to its topic's subscribers; returns them."""
        news, self.announced = self.announced, []
        for topic, key in news:
            for callback in self.subscribers[topic]:
                callback(key)
        return news

    def lost(self) -> None:
        """As after the LISTEN connection was lost: every subscriber reloads everything."""
        for callbacks in list(self.subscribers.values()):
            for callback in callbacks:
                callback(EVERYTHING)
