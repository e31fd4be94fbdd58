"""EventBridge's per-target retries with a manual clock and the real store: a delivery that may yet succeed
is kept and retried with back-off (by whichever node holds the lease, after a restart too) until it
succeeds or its RetryPolicy gives up, then goes to the dead-letter queue with EventBridge's attributes; a
refusal goes there at once; without a dead-letter queue the event is dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambkin.events.bridge.outlets import Delivery, Failure
from lambkin.events.bridge.retries import LEASE, MIGRATIONS, Retries, pending
from lambkin.queues.messages import AttributeValue
from lambkin.store import Connection, Store
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests import postgres

T0 = 1_800_000_000.0
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:busy"
DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
RULE = "arn:aws:events:us-east-1:123456789012:rule/jobs"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same SQL on both backends (docs/design/state.md)."""
    database: Store
    if request.param == "sqlite":
        database = SqliteStore(tmp_path / "lambkin.db")
    else:
        database = PostgresStore(postgres.shared().create_database(), "lambkin")
    database.migrate(MIGRATIONS)
    yield database
    database.close()


class Outlets:
    """Refuses with each of `failures` in turn, then delivers; records what reached the DLQ."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.delivered: list[Delivery] = []
        self.dead: list[tuple[str, dict[str, str]]] = []

    async def deliver(self, delivery: Delivery) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append(delivery)

    async def dead_letter(
        self, dlq_arn: str, delivery: Delivery, original: str, attributes: dict[str, AttributeValue]
    ) -> bool:
        self.dead.append((original, {name: value.string_value or "" for name, value in attributes.items()}))
        return True


class Leases:
    def __init__(self, mine: bool = True) -> None:
        self.mine = mine

    def held(self, name: str) -> Any:
        return name if self.mine and name == LEASE else None

    async def claim(self, name: str) -> Any:
        return self.held(name)

    def fence(self, conn: Connection, lease: Any) -> None:
        assert lease == LEASE


def busy() -> Failure:
    return Failure("SDK_CLIENT_ERROR", "The function is currently in the following state: Failed", True)


def target(**policy: int) -> dict[str, Any]:
    return {"Id": "t", "Arn": FUNCTION, "RetryPolicy": policy, "DeadLetterConfig": {"Arn": DLQ}}


def first(clock: ManualClock, **policy: int) -> Any:
    return pending(target(**policy), Delivery(FUNCTION, "{}", RULE), '{"id": "e1"}', clock.now())


def retries(db: Store, outlets: Outlets, clock: ManualClock, mine: bool = True) -> Retries:
    return Retries(db, outlets, Leases(mine), clock, draw=lambda: 1.0)  # type: ignore[arg-type]


async def test_a_delivery_that_may_succeed_is_retried_until_it_does(db: Store) -> None:
    clock = ManualClock(T0)
    outlets = Outlets(busy(), RuntimeError("the queue store is away"))
    await retries(db, outlets, clock).deliver(first(clock))
    assert outlets.delivered == []
    restarted = retries(db, outlets, clock)  # the kept retry survives the process
    for _ in range(4):
        clock.advance(2)
        await restarted.tick()
    assert [d.target_arn for d in outlets.delivered] == [FUNCTION] and outlets.dead == []
    await restarted.tick()
    assert len(outlets.delivered) == 1


async def test_retries_exhausted_go_to_the_dead_letter_queue_with_the_condition(db: Store) -> None:
    clock = ManualClock(T0)
    outlets = Outlets(busy(), busy(), busy())
    timer = retries(db, outlets, clock)
    await timer.deliver(first(clock, MaximumRetryAttempts=2))
    for _ in range(3):
        clock.advance(4)
        await timer.tick()
    ((original, attributes),) = outlets.dead
    assert original == '{"id": "e1"}'
    assert attributes == {
        "RULE_ARN": RULE,
        "TARGET_ARN": FUNCTION,
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "The function is currently in the following state: Failed",
        "RETRY_ATTEMPTS": "2",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
    }


async def test_an_event_older_than_its_maximum_age_is_no_longer_retried(db: Store) -> None:
    clock = ManualClock(T0)
    outlets = Outlets(*[busy() for _ in range(20)])
    timer = retries(db, outlets, clock)
    await timer.deliver(first(clock, MaximumEventAgeInSeconds=60))
    for _ in range(20):
        clock.advance(10)
        await timer.tick()
    ((_, attributes),) = outlets.dead
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert int(attributes["RETRY_ATTEMPTS"]) < 20


async def test_a_refusal_goes_to_the_dead_letter_queue_at_once(db: Store) -> None:
    clock = ManualClock(T0)
    outlets = Outlets(Failure("NO_PERMISSIONS", "not allowed"))
    await retries(db, outlets, clock).deliver(first(clock))
    ((_, attributes),) = outlets.dead
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("NO_PERMISSIONS", "0")
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes


async def test_a_node_without_the_lease_retries_nothing(db: Store) -> None:
    clock = ManualClock(T0)
    outlets = Outlets(busy())
    await retries(db, outlets, clock, mine=False).deliver(first(clock))
    clock.advance(5)
    await retries(db, outlets, clock, mine=False).tick()
    assert outlets.delivered == []
    await retries(db, outlets, clock).tick()
    assert len(outlets.delivered) == 1
