"""News of control-plane changes between nodes, so each node's caches learn of a write made on another.

A writer announces `(topic, key)` inside its unit of work; PostgreSQL's NOTIFY is transactional, so the news
goes out when (and only if) the unit commits, to every node's LISTEN connection, the writer's own included.
Subscribers are called on the event loop with the key; each time the LISTEN connection is up, the first
time too, every subscriber is called with `"*"`: reload everything, news may have been missed (while it was
lost: PostgreSQL restarted, the network cut; or before it was first made, after the caches were loaded at
start). A server alone announces nothing (`SoloBus`): its caches are updated by the code that wrote.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from lambkin.store import Connection

log = logging.getLogger("lambkin.cluster")

CHANNEL = "lambkin_changes"
EVERYTHING = "*"
_RETRY_S = 1.0


class Bus(Protocol):
    def announce(self, conn: Connection, topic: str, key: str = "") -> None: ...

    def subscribe(self, topic: str, callback: Callable[[str], None]) -> None: ...

    async def run(self) -> None: ...


class _Subscribers:
    def __init__(self) -> None:
        self._by_topic: dict[str, list[Callable[[str], None]]] = defaultdict(list)

    def subscribe(self, topic: str, callback: Callable[[str], None]) -> None:
        if "\t" in topic:
            raise ValueError("a topic has no tab")
        self._by_topic[topic].append(callback)

    def deliver(self, topic: str, key: str) -> None:
        for callback in self._by_topic.get(topic, ()):
            try:
                callback(key)
            except Exception:
                log.exception("cluster: a subscriber of %s failed on %r", topic, key)

    def deliver_everything(self) -> None:
        for topic in list(self._by_topic):
            self.deliver(topic, EVERYTHING)


class SoloBus(_Subscribers):
    """A server alone: nothing to tell anyone."""

    def announce(self, conn: Connection, topic: str, key: str = "") -> None:
        return None

    async def run(self) -> None:
        return None


class PgBus(_Subscribers):
    """NOTIFY at commit, LISTEN on a connection of its own."""

    def __init__(self, url: str) -> None:
        from lambkin.store.postgres import watched  # psycopg only for a node of a cluster

        super().__init__()
        self.url = watched(url)  # a database host gone silent ends the LISTEN connection in seconds
        self.listening = asyncio.Event()  # set while the LISTEN connection is up

    def announce(self, conn: Connection, topic: str, key: str = "") -> None:
        conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{topic}\t{key}"))

    async def run(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.deliver_everything()
                    async for notice in conn.notifies():
                        topic, _, key = notice.payload.partition("\t")
                        self.deliver(topic, key)
            except psycopg.Error as exc:
                if self.listening.is_set():
                    log.warning("cluster: change notifications lost (%s); reconnecting", exc)
            self.listening.clear()
            await asyncio.sleep(_RETRY_S)
