"""Each function's async events dispatched by one node: two dispatchers ("nodes") on one event store, fake
leases, the bus's announcements collected by hand."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lambkin.cluster.leases import Lease
from lambkin.cluster.rendezvous import owner
from lambkin.invoke.async_destinations import Destinations
from lambkin.invoke.async_dispatcher import AsyncConfig, Dispatcher, DispatchSettings
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.invoke.async_store import open_event_store
from lambkin.invoke.targets import Target
from lambkin.store import Connection
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock
from tests.unit.cluster.fakes import owners_of
from tests.unit.invoke.test_async_dispatcher import ARN, Runner, Version

NODES = ["a", "b"]


@dataclass
class Announced:
    seen: list[tuple[str, list[str]]] = field(default_factory=list)

    def __call__(self, conn: Connection, function: str, request_ids: Sequence[str]) -> None:
        self.seen.append((function, list(request_ids)))


async def resolve(name: str, qualifier: str | None) -> Target:
    return Target(Version(name), None)  # type: ignore[arg-type]


async def no_config(name: str, qualifier: str | None) -> AsyncConfig | None:
    return None


@contextlib.asynccontextmanager
async def node(
    name: str, path: Path, table: dict[str, Lease], clock: ManualClock, runner: Runner, announced: Announced
) -> AsyncIterator[Dispatcher]:
    owners = owners_of(name, table, NODES, kind="async")
    store = open_event_store(SqliteStore(path), owners.leases.fence)
    dispatcher = Dispatcher(
        store,
        runner,
        resolve,
        no_config,
        Destinations(None),
        DispatchSettings(),
        clock,
        owners=owners,
        announce=announced,
    )
    journal = asyncio.create_task(store.journal.run())
    try:
        yield dispatcher
    finally:
        journal.cancel()
        await asyncio.gather(journal, return_exceptions=True)
        store.db.close()


def event(function: str, request_id: str, clock: ManualClock) -> AsyncEvent:
    now = clock.now()
    return AsyncEvent(request_id, function, None, ARN + function, json.dumps({}).encode(), now, now)


def function_of(node_name: str) -> str:
    return next(f for f in (f"fn{i}" for i in range(100)) if owner(f, NODES) == node_name)


async def run_due(dispatcher: Dispatcher, clock: ManualClock) -> list[str]:
    started = dispatcher.due(clock.now())
    for e in started:
        await dispatcher.attempt(e)
    return [e.request_id for e in started]


async def test_any_node_accepts_and_the_functions_owner_dispatches(tmp_path: Path) -> None:
    clock, runner, announced, table = ManualClock(1000.0), Runner(), Announced(), {}
    path = tmp_path / "events.db"
    fn = function_of("b")
    async with (
        node("a", path, table, clock, runner, announced) as a,
        node("b", path, table, clock, runner, announced) as b,
    ):
        await a.accept([event(fn, "r1", clock)])
        assert announced.seen == [(fn, ["r1"])]  # stored and announced together
        assert await run_due(a, clock) == []  # not a's to run
        await b.take(fn)  # what b does when it hears the announcement
        assert await run_due(b, clock) == ["r1"]
        assert a.store.load() == []
        await a.accept([event(fn, "r2", clock)])
        assert await b.load(fn, ["r2"]) == 1
        assert await run_due(b, clock) == ["r2"]


async def test_a_gone_nodes_events_in_flight_run_again_on_the_survivor(tmp_path: Path) -> None:
    clock, runner, announced, table = ManualClock(1000.0), Runner(), Announced(), {}
    path = tmp_path / "events.db"
    fn = function_of("b")
    async with (
        node("a", path, table, clock, runner, announced) as a,
        node("b", path, table, clock, runner, announced) as b,
    ):
        await b.accept([event(fn, f"r{i}", clock) for i in range(3)])
        assert len(b.due(clock.now())) == 3  # in flight when b dies
        table.clear()  # b's leases lapsed
        owners = a.owners
        membership = owners.membership
        membership.names = ["a"]  # type: ignore[attr-defined]
        assert await a.restore() == 3
        assert sorted(await run_due(a, clock)) == ["r0", "r1", "r2"]
        assert a.store.load() == []


async def test_a_node_that_lost_a_function_writes_nothing_of_its_events(tmp_path: Path) -> None:
    clock, runner, announced, table = ManualClock(1000.0), Runner(), Announced(), {}
    path = tmp_path / "events.db"
    fn = function_of("a")
    async with (
        node("a", path, table, clock, runner, announced) as a,
        node("b", path, table, clock, runner, announced) as b,
    ):
        await a.accept([event(fn, "r1", clock)])
        [started] = a.due(clock.now())
        del table[f"async:{fn}"]  # a was paused and deemed gone: b took its work over
        assert await b.owners.leases.claim(f"async:{fn}") is not None
        await a.attempt(started)
        assert [e.request_id for e in a.store.load()] == ["r1"]  # still there for its new owner
        assert a.due(clock.now()) == []
        assert await b.load(fn) == 1
