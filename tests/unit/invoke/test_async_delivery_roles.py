"""The dispatcher delivers a finished event's record and its dead letter with the function's role, asking at
delivery time (the role may have changed since the target was configured): a refused delivery is logged and
not made, the other one still is, and the event is settled all the same. Fakes: runner, queues, the answer."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambkin.environments.results import FunctionError, Success
from lambkin.invoke.async_destinations import Destinations
from lambkin.invoke.async_dispatcher import AsyncConfig, Dispatcher, DispatchSettings
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.invoke.async_store import open_event_store
from lambkin.invoke.invoker import InvokeRequest, InvokeResult, InvokeTarget
from lambkin.invoke.targets import Target
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
QUEUES = "arn:aws:sqs:us-east-1:000000000000:"
ROLE = "arn:aws:iam::000000000000:role/worker"


@dataclass(frozen=True)
class Version:
    name: str
    role: str = ROLE
    dead_letter_target_arn: str | None = None
    reserved_concurrency: int | None = None
    version: str = "$LATEST"


@dataclass(frozen=True)
class Config:
    max_retries: int | None = 0
    max_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None


@dataclass
class Queues:
    """The two calls Destinations makes of the queue service; `sent` holds each queue's bodies."""

    sent: dict[str, list[str]] = field(default_factory=dict)

    @property
    def registry(self) -> Queues:
        return self

    def name_of_arn(self, arn: str) -> str:
        return arn.rsplit(":", 1)[1]

    async def send(self, name: str, request: Any, sender: str) -> None:
        self.sent.setdefault(name, []).append(request.body)


@dataclass
class Runner:
    fail: bool = False

    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult:
        if self.fail:
            return InvokeResult("", FunctionError("Runtime.Unknown", b'{"errorMessage": "no"}'), b"")
        return InvokeResult("", Success(request.payload), b"")


@dataclass
class World:
    dispatcher: Dispatcher
    runner: Runner
    queues: Queues
    configs: dict[str, Config]
    versions: dict[str, Version]
    refusals: set[tuple[str, str, str]]  # (role, function, target) the role may not deliver to
    asked: list[tuple[str, str, str]]
    clock: ManualClock

    async def run(self, function: str) -> None:
        now = self.clock.now()
        event = AsyncEvent("r1", function, None, ARN + function, b'{"n": 1}', now, now)
        await self.dispatcher.accept([event])
        for due in self.dispatcher.due(now):
            await self.dispatcher.attempt(due)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    configs: dict[str, Config] = {}
    versions: dict[str, Version] = {}
    refusals: set[tuple[str, str, str]] = set()
    asked: list[tuple[str, str, str]] = []

    def refused(role: str, function: str, target: str) -> str | None:
        asked.append((role, function, target))
        if (role, function, target) not in refusals:
            return None
        return "sqs:SendMessage" if ":sqs:" in target else "lambda:InvokeFunction"

    async def resolve(name: str, qualifier: str | None) -> Target:
        return Target(versions.get(name, Version(name)), None)  # type: ignore[arg-type]

    async def config(name: str, qualifier: str | None) -> AsyncConfig | None:
        return configs.get(name)

    clock = ManualClock(1000.0)
    queues = Queues()
    runner = Runner()
    store = open_event_store(SqliteStore(tmp_path / "events.db"))
    destinations = Destinations(queues, refused)  # type: ignore[arg-type]
    dispatcher = Dispatcher(store, runner, resolve, config, destinations, DispatchSettings(), clock)
    journal = asyncio.create_task(store.journal.run())
    yield World(dispatcher, runner, queues, configs, versions, refusals, asked, clock)
    journal.cancel()
    await asyncio.gather(journal, return_exceptions=True)
    store.db.close()


async def test_allowed_deliveries_are_made_and_asked_with_the_versions_role(world: World) -> None:
    world.runner.fail = True
    world.versions["fn"] = Version("fn", dead_letter_target_arn=QUEUES + "dlq")
    world.configs["fn"] = Config(on_failure=QUEUES + "failures")
    await world.run("fn")
    assert set(world.queues.sent) == {"failures", "dlq"}
    assert world.asked == [(ROLE, "fn", QUEUES + "failures"), (ROLE, "fn", QUEUES + "dlq")]
    assert world.dispatcher.store.load() == []


async def test_a_refused_dead_letter_queue_gets_nothing_and_the_destination_still_its_record(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.runner.fail = True
    world.versions["fn"] = Version("fn", dead_letter_target_arn=QUEUES + "dlq")
    world.configs["fn"] = Config(on_failure=QUEUES + "failures")
    world.refusals.add((ROLE, "fn", QUEUES + "dlq"))
    with caplog.at_level(logging.WARNING, logger="lambkin.invoke.async"):
        await world.run("fn")
    assert list(world.queues.sent) == ["failures"]
    assert json.loads(world.queues.sent["failures"][0])["requestContext"]["condition"] == "RetriesExhausted"
    assert world.dispatcher.store.load() == []  # settled, not retried
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"execution role {ROLE} of function fn is not allowed sqs:SendMessage on {QUEUES}dlq" in warning
    assert "not delivered" in warning


async def test_a_refused_queue_destination_gets_nothing_and_the_dead_letter_queue_still_the_event(
    world: World,
) -> None:
    world.runner.fail = True
    world.versions["fn"] = Version("fn", dead_letter_target_arn=QUEUES + "dlq")
    world.configs["fn"] = Config(on_failure=QUEUES + "failures")
    world.refusals.add((ROLE, "fn", QUEUES + "failures"))
    await world.run("fn")
    assert world.queues.sent == {"dlq": ['{"n": 1}']}
    assert world.dispatcher.store.load() == []


async def test_a_refused_function_destination_gets_no_event(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.configs["fn"] = Config(on_success=ARN + "sink")
    world.refusals.add((ROLE, "fn", ARN + "sink"))
    with caplog.at_level(logging.WARNING, logger="lambkin.invoke.async"):
        await world.run("fn")
    assert world.dispatcher.store.load() == []  # no event for sink, and fn's own is settled
    assert any("lambda:InvokeFunction on " + ARN + "sink" in r.getMessage() for r in caplog.records)


async def test_an_allowed_function_destination_gets_the_record_as_an_event(world: World) -> None:
    world.configs["fn"] = Config(on_success=ARN + "sink")
    world.refusals.add((ROLE, "other", ARN + "sink"))  # another function's refusal is not fn's
    await world.run("fn")
    (successor,) = world.dispatcher.store.load()
    assert successor.function == "sink"
