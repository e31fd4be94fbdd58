"""Who owns a piece of work (a queue, a function's async events, a mapping, a timer): one lease row each.

A lease is held by one incarnation of one node for as long as that node heartbeats; there is no per-lease
renewal. It is taken when it is free, released, or its holder is gone (no heartbeat for gone_after_s, or
restarted as a new incarnation), and each taking raises its epoch. Writes for leased work are fenced:
`fence(conn, lease)` inside the writing unit of work takes a share lock on the lease row and fails with
LeaseLost if the row is no longer this holder's epoch, so a node that lost its lease (paused, cut off from
PostgreSQL) cannot write over its successor, and a successor's takeover waits for a fenced write in flight.
Names are `kind:key` (`queue:NAME`, `async:FUNCTION`, `esm:UUID`, `timer:NAME`). A server alone holds every
lease it asks for (`SoloLeases`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lambkin.cluster.membership import NOW, ClusterMembership
from lambkin.store import Connection, Store

log = logging.getLogger("lambkin.cluster")


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    epoch: int


class LeaseLost(Exception):
    """The work is another node's now: this node must drop what it keeps of it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the lease {name} is no longer this node's")
        self.name = name


class Leases(Protocol):
    def held(self, name: str) -> Lease | None: ...

    def mine(self) -> list[Lease]: ...

    async def claim(self, name: str) -> Lease | None: ...

    async def release(self, name: str) -> None: ...

    async def release_all(self) -> None: ...

    async def holder(self, name: str) -> str | None: ...

    def fence(self, conn: Connection, lease: Lease) -> None: ...

    def on_lost(self, callback: Callable[[str], None]) -> None: ...


class SoloLeases:
    """A server alone: every lease is its own, and nothing to fence against."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._held: dict[str, Lease] = {}

    def held(self, name: str) -> Lease | None:
        return self._held.get(name)

    def mine(self) -> list[Lease]:
        return list(self._held.values())

    async def claim(self, name: str) -> Lease | None:
        return self._held.setdefault(name, Lease(name, self.node, 1))

    async def release(self, name: str) -> None:
        self._held.pop(name, None)

    async def release_all(self) -> None:
        self._held.clear()

    async def holder(self, name: str) -> str | None:
        return self.node

    def fence(self, conn: Connection, lease: Lease) -> None:
        return None

    def on_lost(self, callback: Callable[[str], None]) -> None:
        return None


# The holder of a lease is alive while its node's row carries the same incarnation and a recent beat.
_HOLDER_LIVE = (
    "EXISTS (SELECT 1 FROM cluster_nodes n WHERE n.name = l.holder AND n.incarnation = l.incarnation "
    f"AND n.beat_at > {NOW} - ?)"
)


class ClusterLeases:
    """Leases in `cluster_leases`, judged live by `cluster_nodes` (both on PostgreSQL's clock)."""

    def __init__(self, db: Store, membership: ClusterMembership) -> None:
        self.db = db
        self.membership = membership
        self._held: dict[str, Lease] = {}
        self._lost: list[Callable[[str], None]] = []

    @property
    def _me(self) -> tuple[str, str]:
        return self.membership.name, self.membership.incarnation

    def held(self, name: str) -> Lease | None:
        return self._held.get(name)

    def mine(self) -> list[Lease]:
        return list(self._held.values())

    def on_lost(self, callback: Callable[[str], None]) -> None:
        self._lost.append(callback)

    async def claim(self, name: str) -> Lease | None:
        """The lease, now this node's if it was free, released or its holder gone; None if a live node
        holds it."""
        (node, incarnation), gone_after = self._me, self.membership.gone_after_s

        def unit(conn: Connection) -> int | None:
            conn.execute(
                "INSERT INTO cluster_leases (name, holder, incarnation, epoch) VALUES (?, '', '', 0) "
                "ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            row = conn.execute(
                f"SELECT l.holder, l.incarnation, l.epoch, {_HOLDER_LIVE} FROM cluster_leases l "
                "WHERE l.name = ? FOR UPDATE",
                (gone_after, name),
            ).fetchone()
            assert row is not None
            holder, held_by, epoch, live = row[0], row[1], int(row[2]), bool(row[3])
            if holder == node and held_by == incarnation:
                return epoch
            if holder and live:
                return None
            conn.execute(
                "UPDATE cluster_leases SET holder = ?, incarnation = ?, epoch = ? WHERE name = ?",
                (node, incarnation, epoch + 1, name),
            )
            return epoch + 1

        epoch = await self.db.run(unit)
        if epoch is None:
            self._held.pop(name, None)
            return None
        lease = self._held[name] = Lease(name, node, epoch)
        return lease

    async def release(self, name: str) -> None:
        lease = self._held.pop(name, None)
        if lease is None:
            return
        node, incarnation = self._me

        def unit(conn: Connection) -> None:
            conn.execute(
                "UPDATE cluster_leases SET holder = '', incarnation = '' "
                "WHERE name = ? AND holder = ? AND incarnation = ? AND epoch = ?",
                (name, node, incarnation, lease.epoch),
            )

        await self.db.run(unit)

    async def release_all(self) -> None:
        """Every lease of this node freed at once (a draining node hands its work back)."""
        node, incarnation = self._me
        self._held.clear()

        def unit(conn: Connection) -> None:
            conn.execute(
                "UPDATE cluster_leases SET holder = '', incarnation = '' WHERE holder = ? AND incarnation = ?",
                (node, incarnation),
            )

        await self.db.run(unit)

    async def holder(self, name: str) -> str | None:
        """The live node holding `name` now, by the database (None: free, released or its holder gone)."""
        gone_after = self.membership.gone_after_s

        def unit(conn: Connection) -> str | None:
            row = conn.execute(
                f"SELECT l.holder FROM cluster_leases l WHERE l.name = ? AND l.holder <> '' AND {_HOLDER_LIVE}",
                (name, gone_after),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self.db.run(unit)

    def fence(self, conn: Connection, lease: Lease) -> None:
        node, incarnation = self._me
        row = conn.execute(
            "SELECT 1 FROM cluster_leases WHERE name = ? AND holder = ? AND incarnation = ? AND epoch = ? "
            "FOR SHARE",
            (lease.name, node, incarnation, lease.epoch),
        ).fetchone()
        if row is None:
            raise LeaseLost(lease.name)

    async def check(self) -> None:
        """Compares the leases this node believes it holds with the database; tells the listeners of each
        one lost (taken by another node after this one was out of touch)."""
        before = dict(self._held)
        if not before:
            return
        node, incarnation = self._me

        def unit(conn: Connection) -> set[str]:
            rows = conn.execute(
                "SELECT name FROM cluster_leases WHERE holder = ? AND incarnation = ?", (node, incarnation)
            ).fetchall()
            return {str(r[0]) for r in rows}

        still = await self.db.run(unit)
        for name, lease in before.items():
            if name in still or self._held.get(name) != lease:
                continue
            del self._held[name]
            log.warning("cluster: lease %s was taken by another node", name)
            for callback in self._lost:
                try:
                    callback(name)
                except Exception:
                    log.exception("a lease listener failed")
