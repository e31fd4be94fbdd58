"""The schedules' timer with a manual clock and the real store: a rate fires each period, a firing is
recorded before it is delivered (and delivered after a restart), a minute fires once however often the
timer looks, missed firings within their maximum age are caught up, faults are retried then given up, and
a node without the lease fires nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lambkin.events.bridge.outlets import Failure
from lambkin.events.schedules.expressions import parse
from lambkin.events.schedules.firings import MIGRATIONS, Firing, FiringStore
from lambkin.events.schedules.timer import LEASE, Plan, Timer
from lambkin.store import Connection, Store
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests import postgres

T0 = 1_800_000_000.0  # a whole minute
UTC = ZoneInfo("UTC")


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


class Crash(BaseException):
    """The process ending (kill -9) in the middle of something: nothing after it runs."""


class Leases:
    def __init__(self, mine: bool = True) -> None:
        self.mine = mine
        self.fenced = 0

    def held(self, name: str) -> object | None:
        return name if self.mine and name == LEASE else None

    async def claim(self, name: str) -> object | None:
        return self.held(name)

    def fence(self, conn: Connection, lease: object) -> None:
        assert lease == LEASE
        self.fenced += 1


class Recorder:
    """A provider of given plans that records what fires; `faults` makes the next fires fail so."""

    def __init__(self, *plans: Plan) -> None:
        self.list = list(plans)
        self.fired: list[tuple[str, float]] = []
        self.given_up: list[tuple[float, str]] = []
        self.faults: list[BaseException] = []
        self.done: list[str] = []
        self.prepared: list[float] = []

    def plans(self) -> list[Plan]:
        return self.list

    def prepare(self, plan: Plan, firing: Firing) -> None:
        self.prepared.append(firing.due)

    async def fire(self, plan: Plan, firing: Firing, now: float) -> None:
        if self.faults:
            raise self.faults.pop(0)
        self.fired.append((plan.source, firing.due))

    async def give_up(self, plan: Plan, firing: Firing, failure: Failure) -> None:
        self.given_up.append((firing.due, failure.code))

    async def finished(self, plan: Plan) -> None:
        self.done.append(plan.source)


def every_minute(**changes: object) -> Plan:
    fields: dict[str, object] = {"anchor": T0, "since": T0}
    fields.update(changes)
    return Plan("arn:rule/every-minute", parse("rate(1 minute)"), UTC, **fields)  # type: ignore[arg-type]


async def test_a_rate_fires_once_each_period_however_often_the_timer_looks(db: Store) -> None:
    clock = ManualClock(T0)
    provider = Recorder(every_minute())
    timer = Timer(FiringStore(db), [provider], Leases(), clock)
    for _ in range(3):
        clock.advance(20)
        await timer.tick()
    clock.advance(60)
    await timer.tick()
    await timer.tick()
    assert provider.fired == [("arn:rule/every-minute", T0 + 60), ("arn:rule/every-minute", T0 + 120)]


async def test_a_recorded_firing_is_delivered_by_the_next_timer_after_a_crash(db: Store) -> None:
    clock = ManualClock(T0 + 61)
    store = FiringStore(db)
    crashed = Recorder(every_minute())
    crashed.faults = [Crash()]  # the process dies inside the delivery
    with pytest.raises(BaseException):  # noqa: B017 - the crash, however the task group wraps it
        await Timer(store, [crashed], Leases(), clock).tick()
    assert crashed.fired == []
    restarted = Recorder(every_minute())
    await Timer(store, [restarted], Leases(), clock).tick()
    assert restarted.fired == [("arn:rule/every-minute", T0 + 60)]
    await Timer(store, [restarted], Leases(), clock).tick()
    assert len(restarted.fired) == 1


async def test_after_downtime_missed_firings_within_their_maximum_age_are_delivered(db: Store) -> None:
    clock = ManualClock(T0 + 600)  # ten minutes down
    provider = Recorder(every_minute(max_age_s=180))
    await Timer(FiringStore(db), [provider], Leases(), clock).tick()
    assert [due - T0 for _, due in provider.fired] == [420, 480, 540, 600]


async def test_a_fault_is_retried_with_back_off_and_a_failure_goes_to_give_up(db: Store) -> None:
    clock = ManualClock(T0 + 60)
    provider = Recorder(every_minute(max_retries=1))
    timer = Timer(FiringStore(db), [provider], Leases(), clock)
    provider.faults = [RuntimeError("queue store away"), RuntimeError("still away")]
    await timer.tick()
    clock.advance(1)
    await timer.tick()
    assert provider.given_up == [(T0 + 60, "RETRIES_EXHAUSTED")]
    provider.faults = [Failure("NO_PERMISSIONS", "not allowed")]
    clock.advance(59)
    await timer.tick()
    assert provider.given_up[-1] == (T0 + 120, "NO_PERMISSIONS")
    assert provider.fired == []


async def test_a_node_without_the_lease_fires_nothing(db: Store) -> None:
    clock = ManualClock(T0 + 120)
    provider = Recorder(every_minute())
    leases = Leases(mine=False)
    await Timer(FiringStore(db), [provider], leases, clock).tick()
    assert provider.fired == [] and leases.fenced == 0
    leases.mine = True
    await Timer(FiringStore(db), [provider], leases, clock).tick()
    assert len(provider.fired) == 2 and leases.fenced == 1


async def test_a_one_time_schedule_fires_once_then_is_finished(db: Store) -> None:
    plan = Plan("arn:schedule/once", parse("at(2027-01-16T08:00:00)", allow_at=True), UTC, 0.0, T0)
    provider = Recorder(plan)
    due = plan.next_after(T0)
    assert due is not None
    clock = ManualClock(due)
    timer = Timer(FiringStore(db), [provider], Leases(), clock)
    await timer.tick()
    clock.advance(3600)
    await timer.tick()
    assert len(provider.fired) == 1 and provider.done == ["arn:schedule/once"]


async def test_a_flexible_window_delays_delivery_within_the_window(db: Store) -> None:
    clock = ManualClock(T0 + 60)
    provider = Recorder(every_minute(window_s=600))
    timer = Timer(FiringStore(db), [provider], Leases(), clock, draw=lambda: 0.5)
    await timer.tick()
    assert provider.fired == []
    clock.advance(300)
    await timer.tick()
    assert (T0 + 60) in [due for _, due in provider.fired]


async def test_a_firing_recorded_ahead_is_prepared_once_and_the_timer_wakes_at_its_due_time(
    db: Store,
) -> None:
    clock = ManualClock(T0 + 58.5)
    provider = Recorder(every_minute())
    timer = Timer(FiringStore(db), [provider], Leases(), clock)
    await timer.tick()  # records the firing due at T0 + 60, within the lookahead
    clock.advance(0.8)
    wait = await timer.tick()
    assert wait == pytest.approx(0.7)  # not the next second's look: the recorded firing's time
    assert provider.fired == [] and provider.prepared == [T0 + 60]  # once, however often read back
    clock.advance(wait)
    await timer.tick()
    assert provider.fired == [("arn:rule/every-minute", T0 + 60)]
