"""Message move tasks on a running queue engine with a manual clock: pacing, one task at a time, cancel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from lambkin.queues.errors import InvalidParameterValue
from lambkin.queues.move_tasks import CANCELLED, COMPLETED
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService
from lambkin.testing.clock import ManualClock


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not check():  # noqa: ASYNC110 (the engine's own state, no event to wait on)
            await asyncio.sleep(0.01)


async def dead_lettered(service: QueueService, count: int) -> str:
    """A DLQ holding `count` messages moved there from "src"; its ARN."""
    dlq = await service.registry.create("dlq", {}, {})
    policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
    await service.registry.create("src", {"RedrivePolicy": policy}, {})
    for i in range(count):
        await service.send("src", SendRequest(body=f"m{i}"), "me")
    await service.receive("src", max_messages=10, visibility_timeout=0)
    assert await service.receive("src", max_messages=10) == []
    return dlq.arn


async def test_a_rate_paces_the_moves_by_the_clock(service: QueueService, clock: ManualClock) -> None:
    arn = await dead_lettered(service, 5)
    await service.mover.start(arn, None, 2)
    [task] = service.mover.running.values()
    await until(lambda: task.moved == 2)
    await asyncio.sleep(0.2)
    assert task.moved == 2  # the clock has not moved: the next batch is not due
    clock.advance(1)
    await until(lambda: task.moved == 4)
    clock.advance(1)
    await until(lambda: task.status == COMPLETED)
    assert task.moved == task.to_move == 5
    assert sorted(m.body for m in await service.receive("src", max_messages=10)) == [
        f"m{i}" for i in range(5)
    ]


async def test_one_task_at_a_time_even_when_two_start_at_once(service: QueueService) -> None:
    arn = await dead_lettered(service, 3)
    outcomes = await asyncio.gather(
        service.mover.start(arn, None, 1), service.mover.start(arn, None, 1), return_exceptions=True
    )
    assert sum(isinstance(o, str) for o in outcomes) == 1
    [refused] = [o for o in outcomes if isinstance(o, BaseException)]
    assert isinstance(refused, InvalidParameterValue) and "already a task running" in refused.message


async def test_a_cancelled_task_keeps_what_it_moved(service: QueueService) -> None:
    arn = await dead_lettered(service, 4)
    await service.mover.start(arn, None, 1)
    [task] = service.mover.running.values()
    await until(lambda: task.moved == 1)
    assert await service.mover.cancel(task.task_id, "dlq") == 1
    await until(lambda: task.status == CANCELLED)
    with pytest.raises(InvalidParameterValue):
        await service.mover.cancel(task.task_id, "dlq")
    [listed] = await service.mover.tasks("dlq", 10)
    assert (listed.status, listed.moved) == (CANCELLED, 1)
    assert len(await service.receive("dlq", max_messages=10)) == 3
