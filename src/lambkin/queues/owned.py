"""The queues this node owns: each one's lease, taking a queue on (its state loaded from the database),
and dropping it when its lease is lost.

Every node knows every queue's settings (the registry); only the owner of a queue (the holder of its lease
`queue:NAME`, cluster/owners.py) keeps its messages in memory and serves them, writing each change through
the journal under that lease. A queue is taken on when a request for it arrives and this node should own
it, or when the owners' pass finds it free (never claimed, released, or its holder gone); its messages are
then read back from the database, in-flight ones with their receipts and visibility as the last owner left
them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lambkin.clock import Clock
from lambkin.cluster.leases import Lease
from lambkin.cluster.owners import Here, Nowhere, Owners, There
from lambkin.queues import storage
from lambkin.queues.errors import QueueDoesNotExist, QueueElsewhere, QueueUnavailable
from lambkin.queues.queue import Queue
from lambkin.queues.registry import QueueRegistry
from lambkin.store import Store, StoreError

log = logging.getLogger(__name__)

PASS_INTERVAL_S = 10.0  # the owners' pass also runs at every change of the cluster's nodes


class OwnedQueues:
    """`here(name)` is a queue this node serves (taken on if it should be), else QueueElsewhere (the node
    that serves it) or QueueUnavailable (none can now); `changed` callbacks hear every take and drop."""

    def __init__(self, db: Store, registry: QueueRegistry, owners: Owners, clock: Clock) -> None:
        self.db = db
        self.registry = registry
        self.owners = owners
        self.clock = clock
        self.leases: dict[str, Lease] = {}  # queue name -> its lease, for the queues whose messages are here
        self.changed: list[Callable[[], None]] = []
        self._taking = asyncio.Lock()
        self._wake = asyncio.Event()
        owners.on_lost(self.drop)
        owners.membership.on_change(self._wake.set)

    def lease(self, name: str) -> Lease | None:
        """The lease under which this node serves the queue (None: not here)."""
        return self.leases.get(name)

    def rank_key(self, name: str) -> str:
        """A queue ranks nodes by its dead-letter queue's name (if it has one), so that both land on one node
        and a receive can move a message there."""
        queue = self.registry.queues.get(name)
        policy = queue.config.redrive_policy if queue is not None else None
        target = self.registry.name_of_arn(policy.dead_letter_target_arn) if policy is not None else None
        return target or name

    async def here(self, name: str, relayed: bool = False) -> tuple[Queue, Lease]:
        lease = self.leases.get(name)
        queue = self.registry.queues.get(name)
        if lease is not None and queue is not None:
            if self.owners.held(name) == lease:
                return queue, lease
            self.drop(name)  # given back (a draining node) or lost: served again only once taken again
        if queue is None and not await self.db.run(lambda conn: storage.queue_exists(conn, name)):
            raise QueueDoesNotExist()
        lease = await self.claim(name, relayed)
        queue = await self.take(name, lease)
        if queue is None:
            raise QueueDoesNotExist()
        return queue, lease

    async def claim(self, name: str, relayed: bool) -> Lease:
        """The queue's lease for this node (claimed now if it should be), or QueueElsewhere/Unavailable."""
        place = await self.owners.place(name, relayed, self.rank_key(name))
        match place:
            case Here(lease=lease):
                return lease
            case There(node=node, url=url):
                raise QueueElsewhere(url, node)
            case Nowhere(reason=reason):
                raise QueueUnavailable(reason)

    async def take(self, name: str, lease: Lease) -> Queue | None:
        """Loads the queue's state under `lease` (once); None if the queue does not exist (its lease is
        given back then)."""
        async with self._taking:
            if self.leases.get(name) == lease and name in self.registry.queues:
                return self.registry.queues[name]
            now = self.clock.now()
            state = await self.db.run(lambda conn: storage.load_queue(conn, name, now))
            if self.owners.held(name) != lease:
                raise QueueUnavailable(f"the queue {name} changed hands while it was loaded")
            if state is None:
                self.registry.queues.pop(name, None)
                await self.owners.release(name)
                return None
            queue = self.registry.restore(state.row)
            for meta in state.messages:
                queue.index.put(meta)
            for entry in state.dedup:
                queue.dedup[entry.key] = entry
            self.leases[name] = lease
        self._tell()
        return queue

    def adopt(self, name: str, lease: Lease) -> None:
        """A queue this node creates under `lease` (its settings are written under it)."""
        self.leases[name] = lease
        self._tell()

    def drop(self, name: str) -> None:
        """Forgets the queue's messages (its lease was lost, or the queue deleted); long polls on it end."""
        if self.leases.pop(name, None) is None:
            return
        queue = self.registry.queues.get(name)
        if queue is not None:
            queue.index.clear()
            queue.dedup.clear()
            queue.attempts.clear()
            queue.notify()
        self._tell()

    async def give_back(self, name: str) -> None:
        """The queue is gone (deleted): its lease goes back."""
        self.drop(name)
        await self.owners.release(name)

    async def run(self) -> None:
        """Takes on every queue this node should own and nobody holds: at start, at every change of the
        cluster's nodes, and every PASS_INTERVAL_S; until cancelled."""
        while True:
            self._wake.clear()
            try:
                await self.take_due()
            except StoreError as exc:
                log.warning("taking on queues waits for the database: %s", exc)
            try:
                async with asyncio.timeout(PASS_INTERVAL_S):
                    await self._wake.wait()
            except TimeoutError:
                pass  # quiet move-on: the next pass

    async def take_due(self) -> None:
        names = await self.db.run(storage.queue_names)
        for lease in await self.owners.claim_due(names, self.rank_key):
            name = self.owners.key_of(lease.name)
            if name is not None and name not in self.leases:
                try:
                    await self.take(name, lease)
                except QueueUnavailable as exc:
                    log.info("%s", exc.message)

    def _tell(self) -> None:
        for callback in self.changed:
            callback()
