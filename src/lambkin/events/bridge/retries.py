"""Retries of EventBridge target deliveries that failed for a reason that may pass (the function Pending or
Failed, the queue store away): each kept as a row, tried again with exponential back-off and jitter until
the target's RetryPolicy gives up (MaximumRetryAttempts, MaximumEventAgeInSeconds; 185 and 24 h unless
set), then sent to the target's dead-letter queue with EventBridge's attributes, or dropped without one.
A refusal that retrying cannot help (no permission, no such target) goes there at once.

In a cluster one node retries: the one holding the lease `events:retries`, its writes fenced by it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lambkin.clock import SYSTEM_CLOCK, Clock, tick_forever
from lambkin.cluster.leases import Leases
from lambkin.events.bridge.outlets import Delivery, Failure, Outlets
from lambkin.queues.messages import AttributeValue
from lambkin.store import Connection, Migration, Row, Store

log = logging.getLogger("lambkin.events.bridge")

MIGRATIONS = [
    Migration(
        "eventbridge_retries",
        1,
        """
        CREATE TABLE event_retries (
            id TEXT PRIMARY KEY,
            target_arn TEXT NOT NULL,
            body TEXT NOT NULL,
            source_arn TEXT NOT NULL,
            group_id TEXT,
            dedup_id TEXT,
            original TEXT NOT NULL,
            dlq TEXT,
            max_retries INTEGER NOT NULL,
            max_age REAL NOT NULL,
            ingested REAL NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt REAL NOT NULL
        )
        """,
    ),
]

LEASE = "events:retries"
TICK_S = 1.0
BATCH = 100
PARALLEL = 16
DEFAULT_MAX_AGE_S = 86400
DEFAULT_RETRIES = 185
_COLUMNS = (
    "id, target_arn, body, source_arn, group_id, dedup_id, original, dlq, max_retries, max_age, ingested,"
    " attempts, next_attempt"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """One event for one target: what to send, the target's retry policy and DLQ, the retries made."""

    delivery: Delivery
    original: str  # the event as matched, what the dead-letter queue receives
    dlq: str | None
    max_retries: int
    max_age_s: float
    ingested: float
    attempts: int = 0
    id: str = ""
    next_attempt: float = 0.0


def pending(target: dict[str, Any], delivery: Delivery, original: str, ingested: float) -> Pending:
    """A target's first attempt, with its RetryPolicy (EventBridge's defaults) and DeadLetterConfig."""
    policy = target.get("RetryPolicy") or {}
    age, retries = policy.get("MaximumEventAgeInSeconds"), policy.get("MaximumRetryAttempts")
    return Pending(
        delivery,
        original,
        (target.get("DeadLetterConfig") or {}).get("Arn") or None,
        DEFAULT_RETRIES if retries is None else int(retries),
        float(DEFAULT_MAX_AGE_S if age is None else age),
        ingested,
    )


def _row(conn: Connection, p: Pending) -> None:
    d = p.delivery
    conn.execute(
        f"INSERT INTO event_retries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, next_attempt = excluded.next_attempt",
        (
            *(p.id, d.target_arn, d.body, d.source_arn, d.group_id, d.dedup_id, p.original, p.dlq),
            *(p.max_retries, p.max_age_s, p.ingested, p.attempts, p.next_attempt),
        ),
    )


def _pending(r: Row) -> Pending:
    delivery = Delivery(str(r[1]), str(r[2]), str(r[3]), r[4], r[5])
    return Pending(delivery, str(r[6]), r[7], int(r[8]), float(r[9]), float(r[10]), int(r[11]), str(r[0]))


class Retries:
    def __init__(
        self,
        db: Store,
        outlets: Outlets,
        leases: Leases,
        clock: Clock = SYSTEM_CLOCK,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.outlets = outlets
        self.leases = leases
        self.clock = clock
        self.draw = draw

    async def deliver(self, first: Pending) -> None:
        """The first attempt (PutEvents, a scheduled rule): delivered, dead-lettered, or kept to retry
        (committed before this returns)."""
        later = await self._attempt(first, self.clock.now())
        if later is not None:
            await self.db.run(lambda conn: _row(conn, replace(later, id=str(uuid.uuid4()))))

    async def _attempt(self, p: Pending, now: float) -> Pending | None:
        """Tries `p` once; None once it is done with (delivered, or to the DLQ), else its next retry."""
        try:
            await self.outlets.deliver(p.delivery)
            return None
        except Failure as failure:
            if not failure.retryable:
                await self._dead_letter(p, failure, None)
                return None
            error = failure
        except Exception as exc:  # a fault of lambkin's own (the store away): retried as AWS's 5xx are
            error = Failure("INTERNAL_FAILURE", str(exc) or type(exc).__name__, retryable=True)
        delay = min(2.0**p.attempts, 60.0) * (0.5 + self.draw() / 2)  # exponential, with jitter
        if p.attempts >= p.max_retries:
            await self._dead_letter(p, error, "MaximumRetryAttempts")
        elif now + delay - p.ingested > p.max_age_s:
            await self._dead_letter(p, error, "MaximumEventAgeInSeconds")
        else:
            return replace(p, attempts=p.attempts + 1, next_attempt=now + delay)
        return None

    async def _dead_letter(self, p: Pending, failure: Failure, exhausted: str | None) -> None:
        if p.dlq is None:
            log.warning(
                "%s: target %s failed (%s): the event is dropped",
                p.delivery.source_arn,
                p.delivery.target_arn,
                failure,
            )
            return
        attributes = {
            "RULE_ARN": AttributeValue("String", p.delivery.source_arn),
            "TARGET_ARN": AttributeValue("String", p.delivery.target_arn),
            "ERROR_CODE": AttributeValue("String", failure.code),
            "ERROR_MESSAGE": AttributeValue("String", failure.message),
            "RETRY_ATTEMPTS": AttributeValue("Number", str(p.attempts)),
        }
        if exhausted is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = AttributeValue("String", exhausted)
        await self.outlets.dead_letter(p.dlq, p.delivery, p.original, attributes)

    async def run(self) -> None:
        await tick_forever(self.tick, self.clock, TICK_S, log, "retrying EventBridge deliveries")

    async def tick(self) -> float:
        """One round: the retries whose time has come, PARALLEL at once, their rows then deleted or moved
        to the next attempt in one fenced transaction; how long to sleep before the next round."""
        lease = self.leases.held(LEASE) or await self.leases.claim(LEASE)
        if lease is None:
            return TICK_S
        now = self.clock.now()
        rows = await self.db.run(
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM event_retries WHERE next_attempt <= ? ORDER BY next_attempt LIMIT ?",
                (now, BATCH),
            ).fetchall()
        )
        gate = asyncio.Semaphore(PARALLEL)
        done: list[str] = []
        again: list[Pending] = []

        async def one(p: Pending) -> None:
            async with gate:
                later = await self._attempt(p, now)
                if later is None:
                    done.append(p.id)
                else:
                    again.append(later)

        try:
            async with asyncio.TaskGroup() as group:
                for row in rows:
                    group.create_task(one(_pending(row)))
        finally:

            def settle(conn: Connection) -> None:
                self.leases.fence(conn, lease)
                for id_ in done:
                    conn.execute("DELETE FROM event_retries WHERE id = ?", (id_,))
                for p in again:
                    _row(conn, p)

            if done or again:
                await self.db.run(settle)
        return 0.0 if len(rows) == BATCH else TICK_S
