"""MappingPoller on a real QueueService (temp file, manual clock) with a fake runner and resolver."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lambkin.environments.results import FunctionError, Outcome, Success
from lambkin.events.mappings import FUNCTION_GONE, Mapping, MappingState
from lambkin.events.sqs_poller import TICK_S, MappingPoller
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult
from lambkin.invoke.targets import FunctionGone, Target
from lambkin.queues.receiving import ReceivedMessage
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService
from lambkin.testing.clock import ManualClock
from tests.unit.queues.conftest import running

ARN = "arn:aws:sqs:us-east-1:123456789012:jobs"


class Runner:
    """Answers each invoke with the next scripted outcome (or exception); remembers the payloads."""

    def __init__(self, *answers: Outcome | Exception) -> None:
        self.answers = list(answers)
        self.payloads: list[dict[str, Any]] = []

    async def invoke(self, version: Any, request: InvokeRequest) -> InvokeResult:
        self.payloads.append(json.loads(request.payload))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return InvokeResult("req", answer, b"")


def mapping(**extra: Any) -> Mapping:
    fields: dict[str, Any] = {
        "uuid": "m-1", "event_source_arn": ARN, "queue": "jobs", "function": "f", "qualifier": None,
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "state": MappingState.ENABLED,
    }  # fmt: skip
    fields.update(extra)
    return Mapping(**fields)


@pytest.fixture
async def queues(tmp_path: Path, clock: ManualClock) -> AsyncIterator[QueueService]:
    async with running(tmp_path / "queues.db", clock) as service:
        await service.registry.create("jobs", {"VisibilityTimeout": "30"}, {})
        yield service


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(autojump=True)  # backoffs pass at once; the scaling tests step the ticks themselves


async def send(queues: QueueService, *bodies: str) -> None:
    for body in bodies:
        await queues.send("jobs", SendRequest(body), "AIDA")


def left(queues: QueueService, clock: ManualClock) -> tuple[int, int]:
    counted = queues.registry.get("jobs").index.counts(clock.now())
    return counted.visible, counted.in_flight


def poller(
    queues: QueueService, runner: Runner, clock: ManualClock, **extra: Any
) -> tuple[MappingPoller, list]:
    problems: list[tuple[str, str]] = []

    async def resolve(name: str, qualifier: str | None) -> Target:
        return Target(SimpleNamespace(timeout=3, reserved_concurrency=None), None)  # type: ignore[arg-type]

    async def problem(uuid: str, reason: str) -> None:
        problems.append((uuid, reason))

    made = MappingPoller(mapping(**extra), queues, runner, resolve, problem, "us-east-1", clock)
    return made, problems


async def test_a_successful_batch_is_deleted(queues: QueueService, clock: ManualClock) -> None:
    await send(queues, "a", "b", "c")
    runner = Runner(Success(b"null"))
    made, _ = poller(queues, runner, clock)
    assert await made.poll_once() == 3
    assert left(queues, clock) == (0, 0)
    (event,) = runner.payloads
    assert [r["body"] for r in event["Records"]] == ["a", "b", "c"]
    assert {r["eventSourceARN"] for r in event["Records"]} == {ARN}


async def test_batches_are_at_most_batch_size(queues: QueueService, clock: ManualClock) -> None:
    await send(queues, *[str(i) for i in range(5)])
    runner = Runner(Success(b""))
    made, _ = poller(queues, runner, clock, batch_size=2)
    assert [await made.poll_once() for _ in range(3)] == [2, 2, 1]
    assert left(queues, clock) == (0, 0)


async def test_a_function_error_leaves_the_batch_to_come_back(
    queues: QueueService, clock: ManualClock
) -> None:
    await send(queues, "a", "b")
    made, _ = poller(queues, Runner(FunctionError("Runtime.Unknown", b"{}")), clock)
    await made.poll_once()
    assert left(queues, clock) == (0, 2)
    assert made.errors == 1  # the next scaling decision backs off
    clock.advance(31)
    assert left(queues, clock) == (2, 0)


async def test_batch_item_failures_keep_only_the_listed(queues: QueueService, clock: ManualClock) -> None:
    await send(queues, "a", "b", "c")
    runner = Runner(Success(b"[]"))  # replaced below once ids are known
    made, _ = poller(queues, runner, clock, report_failures=True)

    async def answer(version: Any, request: InvokeRequest) -> InvokeResult:
        records = json.loads(request.payload)["Records"]
        failures = [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "b"]
        return InvokeResult("req", Success(json.dumps({"batchItemFailures": failures}).encode()), b"")

    runner.invoke = answer  # type: ignore[method-assign]
    await made.poll_once()
    assert left(queues, clock) == (0, 1)


async def test_an_invalid_failure_report_fails_the_whole_batch(
    queues: QueueService, clock: ManualClock
) -> None:
    await send(queues, "a", "b")
    bad = b'{"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}'
    made, _ = poller(queues, Runner(Success(bad)), clock, report_failures=True)
    await made.poll_once()
    assert left(queues, clock) == (0, 2)


async def test_throttles_back_off_until_the_batch_would_reappear(
    queues: QueueService, clock: ManualClock
) -> None:
    await send(queues, "a")
    runner = Runner(Throttled("ReservedFunctionConcurrentInvocationLimitExceeded"))
    made, _ = poller(queues, runner, clock)
    await made.poll_once()
    assert 3 <= len(runner.payloads) <= 10  # 0.5, 1, 2, 4, 8, 16 s of backoff within 30 s
    assert made.throttles == len(runner.payloads)
    assert left(queues, clock) == (0, 1)  # still hidden: the receive count is not spent on throttles


async def test_a_throttle_then_success_deletes(queues: QueueService, clock: ManualClock) -> None:
    await send(queues, "a")
    runner = Runner(Throttled("ConcurrentInvocationLimitExceeded"), Success(b""))
    made, _ = poller(queues, runner, clock)
    await made.poll_once()
    assert len(runner.payloads) == 2
    assert left(queues, clock) == (0, 0)


async def test_a_payload_over_6_mb_is_split_and_the_rest_returned(
    queues: QueueService, clock: ManualClock
) -> None:
    await send(queues, *["x" * 1_000_000 for _ in range(8)])
    runner = Runner(Success(b""))
    made, _ = poller(queues, runner, clock)
    handled = await made.poll_once()
    assert handled == 6
    assert left(queues, clock) == (2, 0)


async def test_a_gone_function_reports_a_problem(queues: QueueService, clock: ManualClock) -> None:
    await send(queues, "a")
    made, problems = poller(queues, Runner(Success(b"")), clock)

    async def gone(name: str, qualifier: str | None) -> Target:
        raise FunctionGone("Function not found")

    made.resolve = gone
    await made._work(0)
    assert problems == [("m-1", FUNCTION_GONE)]


class Gate:
    """A runner whose invokes wait until released; it records how many ran at once."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.now = 0
        self.most = 0
        self._changed = asyncio.Event()

    async def invoke(self, version: Any, request: InvokeRequest) -> InvokeResult:
        self.now += 1
        self.most = max(self.most, self.now)
        self._changed.set()
        self._changed = asyncio.Event()
        try:
            await self.open.wait()
        finally:
            self.now -= 1
        return InvokeResult("req", Success(b""), b"")

    async def running(self, count: int) -> None:
        """Returns once exactly `count` invokes wait here (the pollers' receives go through SQLite on its
        thread first); a deadline, so a broken test fails instead of hanging."""
        async with asyncio.timeout(10):
            while self.now != count:
                await self._changed.wait()


@contextlib.asynccontextmanager
async def started(made: MappingPoller) -> AsyncIterator[None]:
    task = asyncio.create_task(made.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_pollers_start_at_five_and_grow_while_all_are_busy(
    queues: QueueService, clock: ManualClock
) -> None:
    await send(queues, *[str(i) for i in range(60)])
    gate = Gate()
    made, _ = poller(queues, gate, clock, batch_size=1)  # type: ignore[arg-type]
    clock.autojump = False
    async with started(made):
        await gate.running(5)
        await clock.wait_sleeping()  # the controller waits for its next tick
        clock.advance(TICK_S)  # one second later, every poller busy and messages waiting: 5 more
        await gate.running(10)
        await clock.wait_sleeping()  # the controller took that tick
        assert made.scale.pollers == 10
    assert gate.most == 10


async def test_maximum_concurrency_caps_the_pollers(queues: QueueService, clock: ManualClock) -> None:
    await send(queues, *[str(i) for i in range(60)])
    gate = Gate()
    made, _ = poller(queues, gate, clock, batch_size=1, max_concurrency=12)  # type: ignore[arg-type]
    clock.autojump = False
    async with started(made):
        for _ in range(5):
            await clock.wait_sleeping()  # the controller took its last tick and waits for the next
            await gate.running(made.scale.pollers)
            clock.advance(TICK_S)
        await clock.wait_sleeping()
        await gate.running(12)
        assert made.scale.pollers == 12
    assert gate.most == 12


async def test_the_batching_window_gathers_messages_that_arrive_during_it(
    queues: QueueService, clock: ManualClock
) -> None:
    await send(queues, "a", "b", "c")
    runner = Runner(Success(b""))
    made, _ = poller(queues, runner, clock, batch_size=20, window_s=5)
    receive, received = queues.receive, asyncio.Queue[int]()

    async def counted(*args: Any, **kwargs: Any) -> list[ReceivedMessage]:
        taken = await receive(*args, **kwargs)
        received.put_nowait(len(taken))
        return taken

    queues.receive = counted  # type: ignore[method-assign]
    polling = asyncio.create_task(made.poll_once())
    assert await received.get() == 3
    assert left(queues, clock) == (0, 3)  # the first receive took what was there
    assert not polling.done()  # and the window keeps the batch open
    await send(queues, *[f"late {i}" for i in range(17)])
    assert await polling == 20
    (event,) = runner.payloads
    assert [r["body"] for r in event["Records"]][:3] == ["a", "b", "c"]
    assert left(queues, clock) == (0, 0)
