"""Fakes of the cluster's membership and leases for unit tests: one shared table of leases, as the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambkin.cluster.leases import Lease, LeaseLost
from lambkin.cluster.membership import Node
from lambkin.cluster.owners import Owners
from lambkin.store import Connection
from lambkin.testing.clock import ManualClock

NODES = ["a", "b", "c"]


@dataclass
class FakeMembership:
    name: str
    names: list[str]
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    url: str = ""

    def ready(self) -> list[Node]:
        return [Node(n, f"http://{n}", "ready") for n in self.names]

    def node(self, name: str) -> Node | None:
        return Node(name, f"http://{name}", "ready") if name in self.names else None

    def is_live(self, name: str) -> bool:
        return name in self.names

    def on_change(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)


@dataclass
class FakeLeases:
    """One node's leases: `table` is the database's (shared by every node's view), `memory` what this node
    believes it holds (as the real leases: a node learns of a loss only when a fenced write fails)."""

    table: dict[str, Lease]
    me: str
    lookups: int = 0
    lost: list[Callable[[str], None]] = field(default_factory=list)
    memory: dict[str, Lease] = field(default_factory=dict)

    async def claim(self, name: str) -> Lease | None:
        held = self.table.get(name)
        if held is not None and held.holder != self.me:
            self.memory.pop(name, None)
            return None
        lease = held or Lease(name, self.me, (self.memory[name].epoch + 1) if name in self.memory else 1)
        self.table[name] = self.memory[name] = lease
        return lease

    async def release(self, name: str) -> None:
        self.memory.pop(name, None)
        if name in self.table and self.table[name].holder == self.me:
            del self.table[name]

    def held(self, name: str) -> Lease | None:
        return self.memory.get(name)

    def mine(self) -> list[Lease]:
        return list(self.memory.values())

    async def holder(self, name: str) -> str | None:
        self.lookups += 1
        lease = self.table.get(name)
        return None if lease is None else lease.holder

    def fence(self, conn: Connection, lease: Lease) -> None:
        if self.table.get(lease.name) != lease:
            raise LeaseLost(lease.name)

    def on_lost(self, callback: Callable[[str], None]) -> None:
        self.lost.append(callback)


def owners_of(node: str, table: dict[str, Lease], names: list[str] = NODES, kind: str = "queue") -> Owners:
    membership: Any = FakeMembership(node, names)
    leases: Any = FakeLeases(table, node)
    return Owners(kind, membership, leases, ManualClock())
