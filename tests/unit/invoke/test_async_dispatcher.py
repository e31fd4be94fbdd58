"""The dispatcher with fakes at its edges (runner, control plane, configs) and a manual clock: no wall time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambkin.environments.results import FunctionError, Outcome, Success
from lambkin.invoke.async_destinations import Destinations
from lambkin.invoke.async_dispatcher import AsyncConfig, Dispatcher, DispatchSettings
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.invoke.async_store import open_event_store
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult, InvokeTarget
from lambkin.invoke.targets import FunctionGone, Target
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


@dataclass(frozen=True)
class Version:
    name: str
    reserved_concurrency: int | None = None
    version: str = "$LATEST"
    dead_letter_target_arn: str | None = None
    role: str = "arn:aws:iam::000000000000:role/fn-role"


@dataclass(frozen=True)
class Config:
    max_retries: int | None = None
    max_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None


@dataclass
class Runner:
    outcomes: list[Outcome | Exception] = field(default_factory=list)
    seen: list[tuple[str, bytes]] = field(default_factory=list)

    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult:
        self.seen.append((version.name, request.payload))
        outcome = self.outcomes.pop(0) if self.outcomes else Success(request.payload)
        if isinstance(outcome, Exception):
            raise outcome
        return InvokeResult(request.request_id or "", outcome, b"")


@dataclass
class World:
    dispatcher: Dispatcher
    runner: Runner
    clock: ManualClock
    configs: dict[str, Config]
    gone: set[str]

    def event(self, function: str, payload: object = None, request_id: str = "r1") -> AsyncEvent:
        now = self.clock.now()
        return AsyncEvent(request_id, function, None, ARN + function, json.dumps(payload).encode(), now, now)

    async def pump(self) -> None:
        """Runs every event due now to the end of its attempt."""
        for event in self.dispatcher.due(self.clock.now()):
            await self.dispatcher.attempt(event)

    def stored(self) -> list[AsyncEvent]:
        return self.dispatcher.store.load()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = ManualClock(1000.0)
    runner = Runner()
    configs: dict[str, Config] = {}
    gone: set[str] = set()
    reserved: dict[str, int] = {}

    async def resolve(name: str, qualifier: str | None) -> Target:
        if name in gone:
            raise FunctionGone(name)
        return Target(Version(name, reserved.get(name)), None)  # type: ignore[arg-type]

    async def config(name: str, qualifier: str | None) -> AsyncConfig | None:
        return configs.get(name)

    store = open_event_store(SqliteStore(tmp_path / "events.db"))
    dispatcher = Dispatcher(store, runner, resolve, config, Destinations(None), DispatchSettings(), clock)
    journal = asyncio.create_task(store.journal.run())
    yield World(dispatcher, runner, clock, configs, gone)
    journal.cancel()
    await asyncio.gather(journal, return_exceptions=True)
    store.db.close()


async def test_an_accepted_event_is_on_disk_and_runs_once(world: World) -> None:
    await world.dispatcher.accept([world.event("fn", {"a": 1})])
    assert [e.request_id for e in world.stored()] == ["r1"]
    await world.pump()
    assert world.runner.seen == [("fn", b'{"a": 1}')]
    assert world.stored() == []


async def test_a_function_error_is_retried_after_one_minute_then_two(world: World) -> None:
    error = FunctionError("Runtime.Unknown", b'{"errorMessage": "no"}')
    world.runner.outcomes = [error, error, error]
    world.configs["fn"] = Config(on_failure=ARN + "sink")
    await world.dispatcher.accept([world.event("fn")])
    await world.pump()
    (stored,) = world.stored()
    assert (stored.attempts, stored.due) == (1, 1060.0)  # retry scheduled and attempt removed together
    world.clock.advance(59.0)  # to 1059
    await world.pump()
    assert len(world.runner.seen) == 1
    world.clock.advance(1.0)  # to 1060
    await world.pump()
    world.clock.advance(120.0)  # to 1180
    await world.pump()
    assert [name for name, _ in world.runner.seen] == ["fn", "fn", "fn"]
    # Gave up: the failure destination (a function) received the record as a new event, in the same commit.
    (record_event,) = world.stored()
    record = json.loads(record_event.payload)
    assert record_event.function == "sink"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"


async def test_throttles_wait_without_spending_attempts(world: World) -> None:
    world.runner.outcomes = [Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")]
    await world.dispatcher.accept([world.event("fn")])
    await world.pump()
    (stored,) = world.stored()
    assert stored.attempts == 0
    await world.pump()
    assert len(world.runner.seen) == 1  # waiting for its back-off
    world.clock.advance(1.0)
    await world.pump()
    assert len(world.runner.seen) == 2
    assert world.stored() == []


async def test_events_of_a_deleted_function_are_dropped(world: World) -> None:
    await world.dispatcher.accept([world.event("fn")])
    world.gone.add("fn")
    await world.pump()
    assert world.runner.seen == []
    assert world.stored() == []


async def test_a_function_runs_at_most_its_slots_at_once(world: World) -> None:
    world.dispatcher.settings = DispatchSettings(per_function=2)
    await world.dispatcher.accept([world.event("fn", request_id=f"r{i}") for i in range(5)])
    started = world.dispatcher.due(world.clock.now())
    assert len(started) == 2
    assert world.dispatcher.due(world.clock.now()) == []
    await world.dispatcher.attempt(started[0])
    assert len(world.dispatcher.due(world.clock.now())) == 1


def restarted(world: World) -> Dispatcher:
    """The dispatcher of a server started again on the same store: nothing in memory, no lease held."""
    old = world.dispatcher
    return Dispatcher(
        old.store, world.runner, old.resolve, old.configs, Destinations(None), DispatchSettings(), world.clock
    )


async def test_a_restart_queues_every_stored_event_again(world: World, tmp_path: Path) -> None:
    await world.dispatcher.accept([world.event("fn", request_id=f"r{i}") for i in range(3)])
    world.dispatcher.due(world.clock.now())  # in flight when the process dies
    again = restarted(world)
    assert await again.restore() == 3
    assert {e.request_id for e in again.due(world.clock.now())} == {"r0", "r1", "r2"}


async def test_an_event_accepted_while_the_start_takes_its_function_on_is_queued(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.dispatcher.accept([world.event("fn", request_id="stored")])
    again = restarted(world)
    store_add = again.store.add

    async def add_once_the_start_has_read(*args: Any, **kwargs: Any) -> None:
        # The restarted server's takeover claims the function and reads its events before this one commits.
        assert await again.restore() == 1
        await store_add(*args, **kwargs)

    monkeypatch.setattr(again.store, "add", add_once_the_start_has_read)

    await again.accept([world.event("fn", request_id="accepted-meanwhile")])

    assert {e.request_id for e in again.due(world.clock.now())} == {"stored", "accepted-meanwhile"}


async def test_a_throttled_event_past_its_maximum_age_goes_to_the_failure_path(world: World) -> None:
    world.configs["fn"] = Config(max_age_s=60, on_failure=ARN + "sink")
    world.runner.outcomes = [Throttled("ConcurrentInvocationLimitExceeded")] * 10
    await world.dispatcher.accept([world.event("fn")])
    for _ in range(7):  # 1 + 2 + 4 + ... s of back-off: the 7th wait ends past 60 s
        await world.pump()
        world.clock.advance(2**6)
    await world.pump()
    (record_event,) = world.stored()
    record = json.loads(record_event.payload)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record


async def test_a_large_payload_waits_on_disk_and_is_loaded_for_its_attempt(world: World) -> None:
    big = {"pad": "x" * 100_000}
    await world.dispatcher.accept([world.event("fn", big)])
    (waiting,) = world.dispatcher.due(world.clock.now())
    assert waiting.payload is None
    await world.dispatcher.attempt(waiting)
    assert world.runner.seen == [("fn", json.dumps(big).encode())]
    assert world.stored() == []


async def test_a_sandbox_failure_is_a_system_error_that_costs_no_attempt(world: World) -> None:
    world.runner.outcomes = [FunctionError("Sandbox.Failure", b'{"errorType": "Sandbox.Failure"}')]
    await world.dispatcher.accept([world.event("fn")])
    await world.pump()
    (stored,) = world.stored()
    assert stored.attempts == 0
    world.clock.advance(1.0)
    await world.pump()
    assert len(world.runner.seen) == 2
    assert world.stored() == []
