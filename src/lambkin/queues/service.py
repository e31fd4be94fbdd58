"""QueueService: the queue engine's one entry point, for the SQS API and in-process pollers alike."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import assert_never

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.queues import storage
from lambkin.queues.errors import (
    InvalidParameterValue,
    MessageNotInflight,
    QueueError,
)
from lambkin.queues.journal import Journal
from lambkin.queues.lifecycle import (
    MessageEvent,
    MessageMeta,
    MessageState,
    ReceiveOutcome,
    change_visibility,
    decide_receive,
    received,
    transition,
)
from lambkin.queues.queue import Queue
from lambkin.queues.receipts import decode, new_token
from lambkin.queues.receiving import ReceivedMessage, render
from lambkin.queues.registry import QueueRegistry
from lambkin.queues.sending import SendRequest, SendResult, prepare
from lambkin.store import Connection, Store, StoreError

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 30.0
MAX_VISIBILITY = 43_200
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

    def __init__(self, db: Store, region: str, account_id: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock
        self.journal = Journal(db)
        self.registry = QueueRegistry(self.journal, self.clock, region, account_id)

    def load(self) -> None:
        """Rebuilds every queue and its index from disk (start-up, before serving)."""
        now = self.clock.now()
        for row in self.db.run_sync(storage.load_queues):
            self.registry.restore(row)
        orphans: list[str] = []
        for meta in self.db.run_sync(lambda conn: list(storage.load_messages(conn))):
            queue = self.registry.queues.get(meta.queue)
            if queue is None:
                orphans.append(meta.message_id)
            else:
                queue.index.put(meta)
        for entry in self.db.run_sync(lambda conn: storage.load_dedup(conn, now)):
            queue = self.registry.queues.get(entry.queue)
            if queue is not None:
                queue.dedup[entry.key] = entry
        if orphans:
            self.db.run_sync(lambda conn: storage.delete_messages(conn, orphans))

    async def run(self) -> None:
        """Commits writes and sweeps expired messages until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.journal.run())
            group.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sweep()
            except StoreError as exc:  # the database away or full: the next sweep deletes what this one kept
                log.warning("queue sweep: %s", exc)

    async def sweep(self) -> None:
        """Drops messages past their queue's retention period and forgets old deduplication keys."""
        now = self.clock.now()
        gone: list[str] = []
        for queue in list(self.registry.queues.values()):
            queue.prune_dedup(now)
            for meta in queue.index.expired(now, queue.config.message_retention_period):
                transition(meta.state(now), MessageEvent.EXPIRE)
                queue.index.remove(meta.message_id)
                gone.append(meta.message_id)

        def write(conn: Connection) -> None:
            storage.delete_messages(conn, gone)
            storage.prune_dedup(conn, now)

        await self.journal.write(write)

    async def send(self, queue_name: str, request: SendRequest, sender_id: str) -> SendResult:
        queue = self.registry.get(queue_name)
        message, result = prepare(queue, request, sender_id, self.clock.now())
        if message is not None:
            await self._store(queue, [message])
        return result

    async def send_batch(
        self, queue_name: str, requests: list[SendRequest], sender_id: str
    ) -> list[SendResult | EntryFailure]:
        """One result per request, in order; the stored ones commit together."""
        queue = self.registry.get(queue_name)
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
            await self._store(queue, messages)
        return results

    async def _store(self, queue: Queue, messages: list[storage.NewMessage]) -> None:
        next_seq = queue.next_seq
        try:
            await self.journal.write(
                lambda conn: storage.insert_messages(conn, queue.name, messages, next_seq)
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
        _check_range("MaxNumberOfMessages", max_messages, 1, MAX_BATCH)
        if wait_seconds is not None:
            _check_range("WaitTimeSeconds", wait_seconds, 0, 20)
        if visibility_timeout is not None:
            _check_range("VisibilityTimeout", visibility_timeout, 0, MAX_VISIBILITY)
        queue = self.registry.get(queue_name)
        attempt_id = attempt_id if queue.fifo else None
        if attempt_id is not None:
            repeated = queue.repeated_attempt(attempt_id, self.clock.now())
            if repeated is not None:
                ids = [m.message_id for m in repeated]
                contents = await self.journal.write(lambda conn: storage.read_contents(conn, ids))
                return [
                    render(queue, m, contents[m.message_id], attribute_names, message_attribute_names)
                    for m in repeated
                    if m.message_id in contents
                ]
        wait = queue.config.receive_message_wait_time_seconds if wait_seconds is None else wait_seconds
        deadline = self.clock.now() + wait
        while True:
            taken = await self._receive_once(queue, max_messages, visibility_timeout)
            if taken or queue.deleted:
                if attempt_id is not None:
                    queue.remember_attempt(attempt_id, [m for m, _ in taken], self.clock.now())
                return [render(queue, m, c, attribute_names, message_attribute_names) for m, c in taken]
            now = self.clock.now()
            remaining = deadline - now
            if remaining <= 0:
                return []
            due = queue.index.next_visible_at(now)
            await queue.wait(remaining if due is None else min(remaining, max(due - now, 0.001)))

    async def _receive_once(
        self, queue: Queue, max_messages: int, visibility_timeout: int | None
    ) -> list[tuple[MessageMeta, storage.MessageContent]]:
        now = self.clock.now()
        timeout = queue.config.visibility_timeout if visibility_timeout is None else visibility_timeout
        retention = queue.config.message_retention_period
        dlq = self.registry.dead_letter_queue(queue)
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
                    target = replace(
                        meta, queue=dlq.name, seq=dlq.take_seq(), visible_at=now, receive_count=0,
                        first_receive_at=None, receipt="",
                    )  # fmt: skip
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
        ids = [m.message_id for m in delivered]

        def write(conn: Connection) -> dict[str, storage.MessageContent]:
            storage.update_deliveries(conn, delivered)
            storage.move_messages(conn, moved, dlq_seq)
            storage.delete_messages(conn, expired)
            return storage.read_contents(conn, ids)

        try:
            contents = await self.journal.write(write)
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
        queue = self.registry.get(queue_name)
        now = self.clock.now()
        results: list[EntryFailure | None] = []
        gone: list[MessageMeta] = []
        for handle in receipt_handles:
            try:
                receipt = decode(handle, queue.name)
                meta = queue.index.messages.get(receipt.message_id)
                if meta is None:
                    results.append(None)  # already deleted: SQS answers success
                    continue
                if meta.receipt != receipt.token:
                    # an older delivery's handle: SQS answers success but keeps the message
                    results.append(None)
                    continue
                transition(meta.state(now), MessageEvent.DELETE)
            except QueueError as exc:
                if single:
                    raise
                results.append(EntryFailure(exc))
                continue
            queue.index.remove(meta.message_id)
            gone.append(meta)
            results.append(None)
        if gone:
            try:
                await self.journal.write(
                    lambda conn: storage.delete_messages(conn, [m.message_id for m in gone])
                )
            except Exception:  # not deleted: the messages stay, and the same receipts may delete them again
                queue.index.restore(gone)
                raise
            if queue.fifo:
                queue.notify()
        return results

    async def change_visibility(self, queue_name: str, receipt_handle: str, seconds: int) -> None:
        await self.change_visibility_batch(queue_name, [(receipt_handle, seconds)], single=True)

    async def change_visibility_batch(
        self, queue_name: str, entries: list[tuple[str, int]], single: bool = False
    ) -> list[EntryFailure | None]:
        queue = self.registry.get(queue_name)
        now = self.clock.now()
        results: list[EntryFailure | None] = []
        changed: list[MessageMeta] = []
        before: list[MessageMeta] = []
        for handle, timeout in entries:
            try:
                _check_range("VisibilityTimeout", timeout, 0, MAX_VISIBILITY)
                receipt = decode(handle, queue.name)
                meta = queue.index.messages.get(receipt.message_id)
                if meta is None or meta.receipt != receipt.token:  # gone, or received again since
                    raise InvalidParameterValue(
                        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
                        "or is not available for visibility timeout change."
                    )
                if meta.state(now) is not MessageState.IN_FLIGHT:
                    raise MessageNotInflight()
                updated = change_visibility(meta, now, timeout)
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
                await self.journal.write(lambda conn: storage.update_deliveries(conn, changed))
            except Exception:  # not stored: each message keeps the visibility the database has
                queue.index.restore(before)
                raise
            queue.notify()
        return results


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidParameterValue(
            f"Value {value} for parameter {name} is invalid. Reason: Must be between {low} and {high}, if provided."
        )


def open_queue_service(db: Store, region: str, account_id: str, clock: Clock = SYSTEM_CLOCK) -> QueueService:
    """The queue engine on its own store (`open_store(settings, "queues")`), loaded and ready for `run()`.

    A store of its own gives queue traffic its own worker thread (and on SQLite its own file, write lock and
    WAL), so sends never wait behind the control plane's transactions (nor it behind theirs).
    """
    db.migrate(storage.migrations())
    service = QueueService(db, region, account_id, clock)
    service.load()
    return service
