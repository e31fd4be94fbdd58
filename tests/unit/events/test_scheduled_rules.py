"""A scheduled rule with a manual clock: `rate(1 minute)` and a cron rule fire AWS's "Scheduled Event" to
their targets at their times (in UTC), a disabled rule fires nothing, and a rule with an event pattern only
is no schedule. Real bridge, store and timer; the outlets record what they are given."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambkin.events.bridge.outlets import Delivery
from lambkin.events.bridge.publish import Publisher
from lambkin.events.bridge.retries import Retries
from lambkin.events.bridge.service import Bridge
from lambkin.events.bridge.store import MIGRATIONS as BRIDGE
from lambkin.events.bridge.store import BridgeStore
from lambkin.events.schedules.firings import MIGRATIONS as FIRINGS
from lambkin.events.schedules.firings import FiringStore
from lambkin.events.schedules.rules import ScheduledRules
from lambkin.events.schedules.timer import Timer
from lambkin.store import Connection, Store
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests import postgres

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
QUEUE = "arn:aws:sqs:us-east-1:123456789012:ticks"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same SQL on both backends (docs/design/state.md)."""
    database: Store
    if request.param == "sqlite":
        database = SqliteStore(tmp_path / "lambkin.db")
    else:
        database = PostgresStore(postgres.shared().create_database(), "lambkin")
    database.migrate([*BRIDGE, *FIRINGS])
    yield database
    database.close()


class Outlets:
    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    async def deliver(self, delivery: Delivery) -> None:
        self.sent.append(delivery)


class Leases:
    def held(self, name: str) -> Any:
        return name

    async def claim(self, name: str) -> Any:
        return name

    def fence(self, conn: Connection, lease: Any) -> None:
        return None


async def world(db: Store, clock: ManualClock) -> tuple[Bridge, Outlets, Timer]:
    bridge = Bridge(BridgeStore(db), "us-east-1", "123456789012", clock)
    bridge.load()
    outlets = Outlets()
    publisher = Publisher(bridge, Retries(db, outlets, Leases(), clock), clock)  # type: ignore[arg-type]
    return bridge, outlets, Timer(FiringStore(db), [ScheduledRules(publisher)], Leases(), clock)


async def test_a_rate_rule_fires_a_scheduled_event_each_minute(db: Store) -> None:
    clock = ManualClock(T0)
    bridge, outlets, timer = await world(db, clock)
    await bridge.put_rule({"Name": "tick", "ScheduleExpression": "rate(1 minute)"})
    await bridge.put_targets(None, "tick", [{"Id": "q", "Arn": QUEUE}])
    await timer.tick()
    assert outlets.sent == []
    for _ in range(2):
        clock.advance(60)
        await timer.tick()
    events = [json.loads(d.body) for d in outlets.sent]
    assert [e["time"] for e in events] == ["2027-01-15T08:01:00Z", "2027-01-15T08:02:00Z"]
    rule_arn = "arn:aws:events:us-east-1:123456789012:rule/tick"
    assert {(e["source"], e["detail-type"], e["account"], e["region"]) for e in events} == {
        ("aws.events", "Scheduled Event", "123456789012", "us-east-1")
    }
    assert all(e["resources"] == [rule_arn] and e["detail"] == {} and e["version"] == "0" for e in events)
    assert len({e["id"] for e in events}) == 2
    assert {d.source_arn for d in outlets.sent} == {rule_arn}


async def test_a_cron_rule_fires_at_its_utc_times_and_a_disabled_one_not_at_all(db: Store) -> None:
    clock = ManualClock(T0)
    bridge, outlets, timer = await world(db, clock)
    await bridge.put_rule({"Name": "quarter", "ScheduleExpression": "cron(0/15 * * * ? *)"})
    await bridge.put_targets(None, "quarter", [{"Id": "q", "Arn": QUEUE, "Input": '{"job": "report"}'}])
    await bridge.put_rule({"Name": "off", "ScheduleExpression": "rate(1 minute)", "State": "DISABLED"})
    await bridge.put_targets(None, "off", [{"Id": "q", "Arn": QUEUE}])
    await bridge.put_rule({"Name": "pattern", "EventPattern": '{"source": ["x"]}'})
    await bridge.put_targets(None, "pattern", [{"Id": "q", "Arn": QUEUE}])
    await timer.tick()
    for _ in range(30):
        clock.advance(60)
        await timer.tick()
    assert [d.body for d in outlets.sent] == ['{"job": "report"}', '{"job": "report"}']


async def test_a_node_refreshing_from_the_store_sees_another_nodes_rules(db: Store) -> None:
    clock = ManualClock(T0)
    writer, _, _ = await world(db, clock)
    firing, outlets, timer = await world(db, clock)
    await writer.put_rule({"Name": "elsewhere", "ScheduleExpression": "rate(1 minute)"})
    await writer.put_targets(None, "elsewhere", [{"Id": "q", "Arn": QUEUE}])
    await firing.refresh()
    await timer.tick()
    clock.advance(60)
    await timer.tick()
    assert len(outlets.sent) == 1
    await writer.remove_targets(None, "elsewhere", ["q"])
    await writer.delete_rule(None, "elsewhere")
    await firing.refresh()
    assert firing.rules == {}
