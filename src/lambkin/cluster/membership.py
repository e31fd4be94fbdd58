"""Which nodes make up the cluster: each node's heartbeat row in PostgreSQL, and every node's view of the others.

A node writes its row (name, URL, state, what it publishes) every `heartbeat_s` and reads everyone's; a node
not heard from for `gone_after_s` (by PostgreSQL's clock, so the nodes' own clocks never matter) is gone,
and its leases may be taken. A restarted node comes back with a new incarnation: what its old incarnation
held is gone with it. Without a node name the server is a cluster of one (`SoloMembership`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lambkin.store import Connection, Migration, Store, StoreError

log = logging.getLogger("lambkin.cluster")

STARTING, READY, DRAINING = "starting", "ready", "draining"
STATES = (STARTING, READY, DRAINING)
NOW = "extract(epoch from clock_timestamp())"  # PostgreSQL's clock, in seconds

MIGRATIONS = [
    Migration(
        "cluster",
        1,
        """
        CREATE TABLE cluster_nodes (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            state TEXT NOT NULL,
            extra TEXT NOT NULL,
            incarnation TEXT NOT NULL,
            started_at REAL NOT NULL,
            beat_at REAL NOT NULL
        );
        CREATE TABLE cluster_leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            incarnation TEXT NOT NULL,
            epoch INTEGER NOT NULL
        );
        CREATE INDEX cluster_leases_holder ON cluster_leases (holder, incarnation);
        CREATE TABLE cluster_secret (id INTEGER PRIMARY KEY, secret TEXT NOT NULL);
        """,
    )
]


@dataclass(frozen=True)
class Node:
    """One node as the last heartbeat read saw it."""

    name: str
    url: str
    state: str  # starting | ready | draining
    incarnation: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class Membership(Protocol):
    """This node and the live nodes it knows of."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def incarnation(self) -> str: ...

    @property
    def state(self) -> str: ...

    def ready(self) -> list[Node]: ...

    def live(self) -> list[Node]: ...

    def node(self, name: str) -> Node | None: ...

    def is_live(self, name: str) -> bool: ...

    def set_state(self, state: str) -> None: ...

    def publish(self, key: str, value: Any) -> None: ...

    def on_change(self, callback: Callable[[], None]) -> None: ...

    async def refresh(self) -> None:
        """Reads the live nodes now rather than at the next beat (a node started a moment ago is news)."""

    async def leave(self) -> None: ...

    async def run(self) -> None: ...


class _Base:
    """What both kinds of membership keep in memory: this node, its state, what it publishes, listeners."""

    def __init__(self, name: str, url: str) -> None:
        self._name = name
        self._url = url
        self._incarnation = secrets.token_hex(8)
        self._state = STARTING
        self._extra: dict[str, Any] = {}
        self._listeners: list[Callable[[], None]] = []
        self._nodes: dict[str, Node] = {}
        self._ready: tuple[dict[str, Node], list[Node]] = ({}, [])  # ready(), made once per view

    @property
    def name(self) -> str:
        return self._name

    @property
    def url(self) -> str:
        return self._url

    @property
    def incarnation(self) -> str:
        return self._incarnation

    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown node state {state!r}")
        self._state = state

    def publish(self, key: str, value: Any) -> None:
        self._extra[key] = value

    def on_change(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def live(self) -> list[Node]:
        return sorted(self._nodes.values(), key=lambda node: node.name)

    def ready(self) -> list[Node]:
        """The ready nodes by name: the same list (not to be altered) until the view changes, so that what is
        worked out of it can be remembered with it (invoke/forward.py)."""
        of, ready = self._ready
        if of is not self._nodes:
            ready = [node for node in self.live() if node.state == READY]
            self._ready = (self._nodes, ready)
        return ready

    def node(self, name: str) -> Node | None:
        return self._nodes.get(name)

    def is_live(self, name: str) -> bool:
        return name in self._nodes

    def _see(self, nodes: dict[str, Node]) -> None:
        """Takes `nodes` as the live ones; this node's own entry carries its state as it is now, not as a
        heartbeat read it back (a node ready a moment ago serves its own work before its next beat)."""
        mine = nodes.get(self._name)
        if mine is not None and mine.state != self._state:
            nodes = {**nodes, self._name: replace(mine, state=self._state)}
        before = {(n.name, n.state, n.incarnation) for n in self._nodes.values()}
        self._nodes = nodes
        if before != {(n.name, n.state, n.incarnation) for n in nodes.values()}:
            for callback in self._listeners:
                try:
                    callback()
                except Exception:
                    log.exception("a membership listener failed")


class SoloMembership(_Base):
    """A server alone: itself, always live."""

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name, url)
        self._see({name: self._me()})

    def _me(self) -> Node:
        return Node(self._name, self._url, self._state, self._incarnation, dict(self._extra))

    def set_state(self, state: str) -> None:
        super().set_state(state)
        self._see({self._name: self._me()})

    async def refresh(self) -> None:
        return None

    async def leave(self) -> None:
        return None

    async def run(self) -> None:
        return None


class ClusterMembership(_Base):
    """One node of several: heartbeats into `cluster_nodes` and reads everyone's row back each beat."""

    def __init__(self, db: Store, name: str, url: str, beat_s: float, gone_after_s: float) -> None:
        super().__init__(name, url)
        self.db = db
        self.beat_s = beat_s
        self.gone_after_s = gone_after_s
        self._wake = asyncio.Event()
        self._after_beat: list[Callable[[], Awaitable[None]]] = []
        self.beats = 0  # heartbeats written

    def after_beat(self, task: Callable[[], Awaitable[None]]) -> None:
        """`task` runs after every heartbeat written (e.g. the leases' check)."""
        self._after_beat.append(task)

    def set_state(self, state: str) -> None:
        super().set_state(state)
        self._see(dict(self._nodes))  # this node's view of itself changes now
        self._wake.set()  # the others hear of it now, not at the next beat

    async def beat(self) -> None:
        """Writes this node's row and reads every live one (StoreError when PostgreSQL is away)."""
        mine = (
            self._name,
            self._url,
            self._state,
            json.dumps(self._extra, separators=(",", ":")),
            self._incarnation,
        )
        gone_after = self.gone_after_s

        def unit(conn: Connection) -> list[Node]:
            conn.execute(
                f"INSERT INTO cluster_nodes (name, url, state, extra, incarnation, started_at, beat_at) "
                f"VALUES (?, ?, ?, ?, ?, {NOW}, {NOW}) ON CONFLICT (name) DO UPDATE SET url = excluded.url, "
                "state = excluded.state, extra = excluded.extra, incarnation = excluded.incarnation, "
                "started_at = CASE WHEN cluster_nodes.incarnation = excluded.incarnation "
                "THEN cluster_nodes.started_at ELSE excluded.started_at END, beat_at = excluded.beat_at",
                mine,
            )
            return _live_nodes(conn, gone_after)

        nodes = await self.db.run(unit)
        self.beats += 1
        self._see({node.name: node for node in nodes})

    async def refresh(self) -> None:
        """Reads every live node now; when PostgreSQL is away, the view stays as the last beat left it."""
        gone_after = self.gone_after_s
        try:
            nodes = await self.db.run(lambda conn: _live_nodes(conn, gone_after))
        except StoreError as exc:
            log.warning("cluster: nodes not read: %s", exc)
            return
        self._see({node.name: node for node in nodes})

    async def leave(self) -> None:
        """Tells the others this node is gone now (its leases free at once), rather than in gone_after_s."""
        name, incarnation = self._name, self._incarnation

        def unit(conn: Connection) -> None:
            conn.execute("DELETE FROM cluster_nodes WHERE name = ? AND incarnation = ?", (name, incarnation))

        await self.db.run(unit)

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
                for task in self._after_beat:
                    await task()
            except StoreError as exc:
                log.warning("cluster: heartbeat not written: %s", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.beat_s)


def _live_nodes(conn: Connection, gone_after_s: float) -> list[Node]:
    rows = conn.execute(
        f"SELECT name, url, state, incarnation, extra FROM cluster_nodes WHERE beat_at > {NOW} - ?",
        (gone_after_s,),
    ).fetchall()
    return [Node(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]
