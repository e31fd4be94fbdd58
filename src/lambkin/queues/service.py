"""QueueService: the queue engine's one entry point, for the SQS API and in-process pollers alike."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar, assert_never

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.cluster import timers
from lambkin.cluster.bus import Bus
from lambkin.cluster.leases import Lease, LeaseLost
from lambkin.cluster.owners import Owners, solo_owners
from lambkin.cluster.refresh import Refresh
from lambkin.queues import handles, storage
from lambkin.queues.activity import QueueActivities
from lambkin.queues.errors import (
    InvalidParameterValue,
    QueueElsewhere,
    QueueError,
    QueueUnavailable,
    check_range,
)
from lambkin.queues.journal import Journal
from lambkin.queues.lifecycle import (
    MessageEvent,
    MessageMeta,
    ReceiveOutcome,
    decide_receive,
    received,
    transition,
)
from lambkin.queues.mover import Mover
from lambkin.queues.owned import OwnedQueues
from lambkin.queues.queue import Queue
from lambkin.queues.receipts import new_token
from lambkin.queues.receiving import ReceivedMessage, render
from lambkin.queues.registry import TOPIC, QueueRegistry
from lambkin.queues.sending import SendRequest, SendResult, check_fifo_batch, prepare
from lambkin.store import Connection, Store, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

SWEEP_INTERVAL = 30.0
MAX_BATCH = 10_000  # in-process pollers (event source mappings); the SQS API allows 10


@dataclass(frozen=True)
class EntryFailure:
    """One failed entry of a batch request (the request itself succeeded)."""

    error: QueueError


class QueueService:
    """Sends, receives, deletes and hides messages; `registry` manages the queues themselves.

    Every change is committed to SQLite (through the journal) before the call returns. Long polls wait on
    their queue's signal, which sends and visibility changes raise.
    """

    def __init__(
        self,
        db: Store,
        region: str,
        account_id: str,
        clock: Clock = SYSTEM_CLOCK,
        owners: Owners | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        owners = owners or solo_owners("queue", clock)
        self.journal = Journal(db, owners.leases.fence)
        self.registry = QueueRegistry(self.journal, self.clock, region, account_id, bus, self._lease_of)
        self.refresh = Refresh(self.registry.bus, TOPIC, self.reload)
        self.owned = OwnedQueues(db, self.registry, owners, clock)
        self.timers = Owners("timer", owners.membership, owners.leases, clock)
        self.mover = Mover(self)
        self.activity = QueueActivities()  # AWS/SQS's counters, taken by the metrics sampler

    def _lease_of(self, name: str) -> Lease | None:
        return self.owned.lease(name)

    def load(self) -> None:
        """Reads every queue's settings (start-up, before serving); a queue's messages are read when this
        node takes it on (`owned`: at once for the queues it should own, or at the first request for one)."""
        for row in self.db.run_sync(storage.load_queues):
            self.registry.restore(row)

    async def reload(self, names: frozenset[str] | None) -> None:
        """Reads the metadata of the queues `names` (None: of every queue) again: another node changed it."""
        writes = self.registry.writes()
        if names is None:
            rows = {row.name: row for row in await self.db.run(storage.load_queues)}
            names = frozenset(rows.keys() | self.registry.queues.keys())
        else:
            chosen = sorted(names)
            rows = {row.name: row for row in await self.db.run(lambda conn: storage.queue_rows(conn, chosen))}
        for name in sorted(names):
            self.registry.apply(name, rows.get(name), writes)

    async def run(self) -> None:
        """Commits writes, takes on the queues this node should own, sweeps expired messages and follows
        other nodes' queue changes until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.journal.run())
            group.create_task(self.owned.run())
            group.create_task(self._sweep_forever())
            group.create_task(self.refresh.run())
            group.create_task(self.mover.run())

    async def here(self, queue_name: str, relayed: bool = False) -> Queue:
        """The queue, served by this node (QueueElsewhere: the node that serves it; `relayed`: a request
        another node sent here, which never goes on)."""
        queue, _ = await self.owned.here(queue_name, relayed)
        return queue

    async def write(self, queue: Queue, fn: Callable[[Connection], T], *leases: Lease) -> T:
        """`fn` committed under the leases of the queues it changes; a lease lost to another node drops
        its queue here and fails the request (retryable)."""
        return await self._journaled(queue, self.journal.write(fn, *leases), leases)

    async def write_then_read(
        self, queue: Queue, fn: Callable[[Connection], Callable[[], T]], *leases: Lease
    ) -> T:
        """`write`, for a write that reads rows back once committed (`Journal.write_then_read`)."""
        return await self._journaled(queue, self.journal.write_then_read(fn, *leases), leases)

    async def _journaled(self, queue: Queue, written: Awaitable[T], leases: tuple[Lease, ...]) -> T:
        try:
            return await written
        except LeaseLost:
            for lease in leases:
                name = self.owned.owners.key_of(lease.name)
                if name is not None:
                    self.owned.owners.lost(name)
                    self.owned.drop(name)
            raise QueueUnavailable(f"the queue {queue.name} changed hands") from None

    async def create_queue(
        self, name: str, attributes: dict[str, str], tags: dict[str, str], relayed: bool = False
    ) -> Queue:
        """CreateQueue, on the node that owns (or should own) the name."""
        lease = await self.owned.claim(name, relayed)
        if await self.db.run(lambda conn: storage.queue_exists(conn, name)):
            await self.owned.take(name, lease)
        if self.owned.lease(name) is None:
            self.owned.adopt(name, lease)
        try:
            return await self.registry.create(name, attributes, tags)
        except BaseException:
            if name not in self.registry.queues:
                await self.owned.give_back(name)
            raise

    async def delete_queue(self, name: str, relayed: bool = False) -> None:
        await self.here(name, relayed)
        await self.registry.delete(name)
        await self.owned.give_back(name)
        self.activity.forget(name)

    async def queue_names(self) -> list[str]:
        """Every queue's name (from the database: the nodes' one account of them)."""
        return await self.db.run(storage.queue_names)

    async def depths(self) -> list[tuple[str, int, int, int, float]]:
        """Every queue's (name, visible, in flight, delayed, age of its oldest message in seconds), as the
        database holds them (every node's queues; a change is there before its request is answered)."""
        now = self.clock.now()
        rows = await self.db.run(lambda conn: storage.depths(conn, now))
        return [(n, v, f, d, 0.0 if sent is None else max(0.0, now - sent)) for n, v, f, d, sent in rows]

    async def exists(self, name: str) -> bool:
        return name in self.registry.queues or await self.db.run(
            lambda conn: storage.queue_exists(conn, name)
        )

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sweep()
            except StoreError as exc:  # the database away or full: the next sweep deletes what this one kept
                log.warning("queue sweep: %s", exc)
            except QueueUnavailable as exc:  # a queue changed hands: its new owner sweeps it
                log.info("queue sweep: %s", exc.message)

    async def sweep(self) -> None:
        """Drops messages past their queue's retention period and forgets old deduplication keys (of the
        queues this node owns)."""
        now = self.clock.now()
        for name, lease in list(self.owned.leases.items()):
            queue = self.registry.queues.get(name)
            if queue is None:
                continue
            queue.prune_dedup(now)
            gone: list[str] = []
            for meta in queue.index.expired(now, queue.config.message_retention_period):
                transition(meta.state(now), MessageEvent.EXPIRE)
                queue.index.remove(meta.message_id)
                gone.append(meta.message_id)
            if gone:
                await self.write(queue, functools.partial(storage.delete_messages, ids=gone), lease)
        await self.forget_dedup()

    async def forget_dedup(self) -> None:
        """Deletes expired deduplication keys of every queue, if this node's timer says so (one node does:
        `timer:queue-dedup`); the queues' owners forget theirs in memory as they sweep."""
        lease = await timers.turn(self.timers, "queue-dedup")
        if lease is None:
            return
        now = self.clock.now()
        with contextlib.suppress(LeaseLost):  # another node's timer now: it deletes them
            await self.journal.write(lambda conn: storage.prune_dedup(conn, now), lease)

    async def send(
        self, queue_name: str, request: SendRequest, sender_id: str, relayed: bool = False
    ) -> SendResult:
        queue, lease = await self.owned.here(queue_name, relayed)
        message, result = prepare(queue, request, sender_id, self.clock.now())
        if message is not None:
            await self._store(queue, lease, [message])
            self.activity.of(queue.name).sent_one(message.meta.size)
        return result

    async def send_batch(
        self, queue_name: str, requests: list[SendRequest], sender_id: str
    ) -> list[SendResult | EntryFailure]:
        """One result per request, in order; the stored ones commit together."""
        queue, lease = await self.owned.here(queue_name)
        check_fifo_batch(queue, requests)
        now = self.clock.now()
        results: list[SendResult | EntryFailure] = []
        messages: list[storage.NewMessage] = []
        for request in requests:
            try:
                message, result = prepare(queue, request, sender_id, now)
            except QueueError as exc:
                results.append(EntryFailure(exc))
                continue
            results.append(result)
            if message is not None:
                messages.append(message)
        if messages:
            await self._store(queue, lease, messages)
            counts = self.activity.of(queue.name)
            for message in messages:
                counts.sent_one(message.meta.size)
        return results

    async def _store(self, queue: Queue, lease: Lease, messages: list[storage.NewMessage]) -> None:
        next_seq = queue.next_seq
        try:
            await self.write(
                queue, lambda conn: storage.insert_messages(conn, queue.name, messages, next_seq), lease
            )
        except BaseException:
            for message in messages:
                if message.dedup is not None:
                    queue.dedup.pop(message.dedup.key, None)
            raise
        if not queue.deleted:
            for message in messages:
                queue.index.put(message.meta)
            queue.notify()

    async def receive(
        self,
        queue_name: str,
        max_messages: int = 1,
        wait_seconds: int | None = None,
        visibility_timeout: int | None = None,
        attribute_names: tuple[str, ...] = (),
        message_attribute_names: tuple[str, ...] = (),
        attempt_id: str | None = None,
    ) -> list[ReceivedMessage]:
        """Up to `max_messages` messages; waits up to `wait_seconds` for the first one to arrive.

        `attribute_names` are system attribute names (or "All"); `message_attribute_names` are names,
        "All", ".*" or "prefix.*". The SQS API allows 1-10 messages; in-process callers up to 10,000.
        On a FIFO queue, a repeated `attempt_id` (ReceiveRequestAttemptId) within 5 minutes returns the
        same messages and receipt handles while none of them has been deleted or changed.
        """
        check_range("MaxNumberOfMessages", max_messages, 1, MAX_BATCH)
        if wait_seconds is not None and not 0 <= wait_seconds <= 20:
            raise InvalidParameterValue(
                f"Value {wait_seconds} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
                "if provided."
            )
        if visibility_timeout is not None:
            check_range("VisibilityTimeout", visibility_timeout, 0, handles.MAX_VISIBILITY)
        queue, lease = await self.owned.here(queue_name)
        attempt_id = attempt_id if queue.fifo else None
        if attempt_id is not None:
            repeated = queue.repeated_attempt(attempt_id, self.clock.now())
            if repeated is not None:
                ids = [m.message_id for m in repeated]
                contents = await self.write(queue, lambda conn: storage.read_contents(conn, ids), lease)
                self.activity.of(queue.name).answered(len(contents))
                return [
                    render(queue, m, contents[m.message_id], attribute_names, message_attribute_names)
                    for m in repeated
                    if m.message_id in contents
                ]
        await self._reach_dead_letter_queue(queue)
        wait = queue.config.receive_message_wait_time_seconds if wait_seconds is None else wait_seconds
        deadline = self.clock.now() + wait
        while True:
            taken = await self._receive_once(queue, lease, max_messages, visibility_timeout)
            if taken or queue.deleted or self.owned.lease(queue.name) != lease:
                if attempt_id is not None:
                    queue.remember_attempt(attempt_id, [m for m, _ in taken], self.clock.now())
                self.activity.of(queue.name).answered(len(taken))
                return [render(queue, m, c, attribute_names, message_attribute_names) for m, c in taken]
            now = self.clock.now()
            remaining = deadline - now
            if remaining <= 0:
                self.activity.of(queue.name).answered(0)
                return []
            due = queue.index.next_visible_at(now)
            await queue.wait(remaining if due is None else min(remaining, max(due - now, 0.001)))

    async def _reach_dead_letter_queue(self, queue: Queue) -> None:
        """Takes on the queue's dead-letter queue too if this node should (the two rank the nodes alike), so
        that a receive can move a message there; if another node serves it, messages stay where they are."""
        dlq = self.registry.dead_letter_queue(queue)
        if dlq is not None and self.owned.lease(dlq.name) is None:
            with contextlib.suppress(QueueError, QueueElsewhere):
                await self.owned.here(dlq.name)

    async def _receive_once(
        self, queue: Queue, lease: Lease, max_messages: int, visibility_timeout: int | None
    ) -> list[tuple[MessageMeta, storage.MessageContent]]:
        now = self.clock.now()
        timeout = queue.config.visibility_timeout if visibility_timeout is None else visibility_timeout
        retention = queue.config.message_retention_period
        dlq = self.registry.dead_letter_queue(queue)
        dlq_lease = self.owned.lease(dlq.name) if dlq is not None else None
        if dlq_lease is None:  # its dead-letter queue is another node's now: messages stay where they are
            dlq = None
        leases = (lease,) if dlq_lease is None else (lease, dlq_lease)
        policy = queue.config.redrive_policy
        max_receives = policy.max_receive_count if dlq is not None and policy is not None else None
        delivered: list[MessageMeta] = []
        moved: list[tuple[MessageMeta, str]] = []
        expired: list[str] = []
        before: list[MessageMeta] = []  # what each message was, to put back if the write fails
        for meta in queue.index.visible(now):
            before.append(meta)
            outcome = decide_receive(meta, now, retention, max_receives)
            match outcome:
                case ReceiveOutcome.DELIVER:
                    taken = received(meta, now, timeout, new_token())
                    queue.index.put(taken)
                    delivered.append(taken)
                case ReceiveOutcome.DEAD_LETTER:
                    assert dlq is not None
                    queue.index.remove(meta.message_id)
                    # the same message, its receive count going on in the dead-letter queue
                    target = replace(meta, queue=dlq.name, seq=dlq.take_seq(), visible_at=now, receipt="")
                    dlq.index.put(target)
                    moved.append((target, queue.arn))
                case ReceiveOutcome.EXPIRE:
                    queue.index.remove(meta.message_id)
                    expired.append(meta.message_id)
                case _:
                    assert_never(outcome)
            if len(delivered) >= max_messages:
                break
        if not (delivered or moved or expired):
            return []
        dlq_seq = dlq.next_seq if dlq is not None else 0

        def write(conn: Connection) -> Callable[[], dict[str, storage.MessageContent]]:
            storage.move_messages(conn, moved, dlq_seq)
            storage.delete_messages(conn, expired)
            return storage.deliver(conn, delivered)

        try:
            contents = await self.write_then_read(queue, write, *leases)
        except Exception:  # not stored: no one was given these deliveries, memory goes back to the database's
            if dlq is not None:
                for target, _ in moved:
                    dlq.index.remove(target.message_id)
            queue.index.restore(before)
            raise
        if moved and dlq is not None:
            dlq.notify()
        return [(m, contents[m.message_id]) for m in delivered if m.message_id in contents]

    async def delete(self, queue_name: str, receipt_handle: str) -> None:
        await self.delete_batch(queue_name, [receipt_handle], single=True)

    async def delete_batch(
        self, queue_name: str, receipt_handles: list[str], single: bool = False
    ) -> list[EntryFailure | None]:
        """Deletes by receipt handle; one None (deleted) or failure per handle, in order."""
        queue, lease = await self.owned.here(queue_name)
        now = self.clock.now()
        results: list[EntryFailure | None] = []
        gone: list[MessageMeta] = []
        for handle in receipt_handles:
            try:
                meta = handles.to_delete(queue, handle, now)
            except QueueError as exc:
                if single:
                    raise
                results.append(EntryFailure(exc))
                continue
            if meta is None:  # already deleted, or an older delivery's handle: SQS answers success
                results.append(None)
                continue
            queue.index.remove(meta.message_id)
            gone.append(meta)
            results.append(None)
        if gone:
            try:
                await self.write(
                    queue, lambda conn: storage.delete_messages(conn, [m.message_id for m in gone]), lease
                )
            except Exception:  # not deleted: the messages stay, and the same receipts may delete them again
                queue.index.restore(gone)
                raise
            if queue.fifo:
                queue.notify()
        self.activity.of(queue.name).deleted += results.count(None)  # repeated deletes count, as in SQS
        return results

    async def change_visibility(self, queue_name: str, receipt_handle: str, seconds: int) -> None:
        await self.change_visibility_batch(queue_name, [(receipt_handle, seconds)], single=True)

    async def change_visibility_batch(
        self, queue_name: str, entries: list[tuple[str, int]], single: bool = False
    ) -> list[EntryFailure | None]:
        queue, lease = await self.owned.here(queue_name)
        now = self.clock.now()
        results: list[EntryFailure | None] = []
        changed: list[MessageMeta] = []
        before: list[MessageMeta] = []
        for handle, timeout in entries:
            try:
                meta, updated = handles.visibility_changed(queue, handle, timeout, now)
            except QueueError as exc:
                if single:
                    raise
                results.append(EntryFailure(exc))
                continue
            queue.index.put(updated)
            before.append(meta)
            changed.append(updated)
            results.append(None)
        if changed:
            try:
                await self.write(queue, lambda conn: storage.update_deliveries(conn, changed), lease)
            except Exception:  # not stored: each message keeps the visibility the database has
                queue.index.restore(before)
                raise
            queue.notify()
        return results


def open_queue_service(
    db: Store,
    region: str,
    account_id: str,
    clock: Clock = SYSTEM_CLOCK,
    owners: Owners | None = None,
    bus: Bus | None = None,
) -> QueueService:
    """The queue engine on its own store (`open_store(settings, "queues")`), loaded and ready for `run()`.

    A store of its own gives queue traffic its own worker thread (and on SQLite its own file, write lock and
    WAL), so sends never wait behind the control plane's transactions (nor it behind theirs).
    """
    db.migrate(storage.migrations())
    service = QueueService(db, region, account_id, clock, owners, bus)
    service.load()
    return service
