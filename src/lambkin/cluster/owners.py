"""Owners: which node does one kind of leased work (queues, functions' async events), and taking it on.

Work of a kind is named by key (a queue's name, a function's name); its lease is `KIND:KEY`. The node that
should own a key is the first of the ready nodes by rendezvous hashing; it claims the lease, and keeps it as
long as it heartbeats (no rebalancing when a node joins). A request for work held here is served here; one
for work another live node holds is relayed to it; free work (never claimed, released, its holder gone) is
claimed by the node that should own it, and a request that reaches another node is relayed there.

`decide` is the pure rule; `Owners` applies it with the cluster's membership and leases. With one node (the
solo membership and leases) every key is this node's and every claim is granted at once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.cluster.leases import Lease, Leases, SoloLeases
from lambkin.cluster.membership import READY, Membership, SoloMembership
from lambkin.cluster.rendezvous import owner

HOLDER_MEMORY_S = 1.0  # how long a node remembers another's holding of a key before asking the database


class Step(enum.Enum):
    CLAIM = "claim"  # take the lease (it is free, or already ours) and serve here
    RELAY = "relay"  # send the request to the node named
    REFUSE = "refuse"  # nobody can serve it now: a retryable fault


def decide(
    rank_key: str, me: str, ready: Sequence[str], holder: str | None, relayed: bool
) -> tuple[Step, str | None]:
    """What to do with a request for a key: `holder` is the live node holding its lease (None: free),
    `ready` the ready nodes' names, `relayed` whether another node sent the request here (it never goes on)."""
    if holder == me:
        return Step.CLAIM, None
    if holder is not None:
        return (Step.REFUSE, None) if relayed else (Step.RELAY, holder)
    first = owner(rank_key, ready)
    if first == me or (relayed and me in ready):
        return Step.CLAIM, None
    if first is None or relayed:
        return Step.REFUSE, None
    return Step.RELAY, first


@dataclass(frozen=True)
class Here:
    lease: Lease


@dataclass(frozen=True)
class There:
    node: str
    url: str


@dataclass(frozen=True)
class Nowhere:
    reason: str


Place = Here | There | Nowhere


class Owners:
    """One kind of work's view of the cluster: held keys (from memory), who holds the others, claims."""

    def __init__(
        self, kind: str, membership: Membership, leases: Leases, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.kind = kind
        self.membership = membership
        self.leases = leases
        self.clock = clock
        self._prefix = kind + ":"
        self._holders: dict[str, tuple[str, float]] = {}  # key -> (another node, remembered until)
        self._lost: set[str] = set()  # keys whose fenced write failed: not held, whatever the leases remember

    @property
    def me(self) -> str:
        return self.membership.name

    def lease_name(self, key: str) -> str:
        return self._prefix + key

    def key_of(self, lease_name: str) -> str | None:
        """The key of one of this kind's leases (None: another kind's)."""
        return lease_name[len(self._prefix) :] if lease_name.startswith(self._prefix) else None

    def held(self, key: str) -> Lease | None:
        if self._lost and key in self._lost:
            return None
        return self.leases.held(self._prefix + key)

    def mine(self) -> list[str]:
        keys = (self.key_of(lease.name) for lease in self.leases.mine())
        return [key for key in keys if key is not None and key not in self._lost]

    def lost(self, key: str) -> None:
        """A fenced write for `key` failed (LeaseLost): the work is not this node's, until claimed again (the
        leases learn of it at the next heartbeat)."""
        self._lost.add(key)

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """`callback(key)` when a lease of this kind was lost (its work is someone else's now)."""

        def lost(name: str) -> None:
            key = self.key_of(name)
            if key is not None:
                callback(key)

        self.leases.on_lost(lost)

    def ready(self) -> list[str]:
        return [node.name for node in self.membership.ready()]

    def should_own(self, rank_key: str) -> bool:
        return owner(rank_key, self.ready()) == self.me

    async def place(self, key: str, relayed: bool, rank_key: str | None = None) -> Place:
        """Where a request for `key` is served: here (under its lease, claimed now if it was free), on the
        node that holds it or should, or nowhere for now. `rank_key` ranks the nodes (default: the key)."""
        lease = self.held(key)
        if lease is not None:
            return Here(lease)
        holder = await self._holder(key)
        step, node = decide(rank_key or key, self.me, self.ready(), holder, relayed)
        if step is Step.CLAIM:
            lease = await self._claim(key)
            if lease is not None:
                self._holders.pop(key, None)
                return Here(lease)
            holder = await self._holder(key, fresh=True)  # another node was quicker
            if holder is None or holder == self.me or relayed:
                return Nowhere(f"the {self.kind} {key} is changing hands")
            step, node = Step.RELAY, holder
        if step is Step.RELAY and node is not None:
            peer = self.membership.node(node)
            if peer is not None:
                return There(node, peer.url)
            self._holders.pop(key, None)
        return Nowhere(f"no node can serve the {self.kind} {key} now")

    async def claim_due(self, keys: Iterable[str], rank_key: Callable[[str], str] = str) -> list[Lease]:
        """Claims the leases of `keys` this node should own and does not hold yet (free or their holder
        gone: a live holder keeps its work); the leases it got."""
        got: list[Lease] = []
        ready = self.ready()
        if self.me not in ready:
            return got
        for key in keys:
            if self.held(key) is None and owner(rank_key(key), ready) == self.me:
                lease = await self._claim(key)
                if lease is not None:
                    got.append(lease)
        return got

    async def _claim(self, key: str) -> Lease | None:
        lease = await self.leases.claim(self._prefix + key)
        if lease is not None:
            self._lost.discard(key)
        return lease

    async def release(self, key: str) -> None:
        await self.leases.release(self._prefix + key)

    async def _holder(self, key: str, fresh: bool = False) -> str | None:
        now = self.clock.monotonic()
        seen = None if fresh else self._holders.get(key)
        if seen is not None and seen[1] > now and self.membership.is_live(seen[0]):
            return seen[0]
        holder = await self.leases.holder(self._prefix + key)
        if holder is not None and holder != self.me:
            self._holders[key] = (holder, now + HOLDER_MEMORY_S)
        else:
            self._holders.pop(key, None)
        return holder


def solo_owners(kind: str, clock: Clock = SYSTEM_CLOCK) -> Owners:
    """A cluster of one, ready: every key is this node's (for a service built on its own, as in unit tests)."""
    membership = SoloMembership("local", "")
    membership.set_state(READY)
    return Owners(kind, membership, SoloLeases(membership.name), clock)
