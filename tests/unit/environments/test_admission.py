"""Cold starts admitted by the host's init slots: the gate's order, fairness and hand-overs, and pools under
a burst."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambkin.environments.admission import InitGate
from lambkin.environments.environment import Invocation, InvocationResult
from lambkin.environments.pool import Pools, PoolSettings
from lambkin.environments.results import Success
from lambkin.logs.store import LogStore
from lambkin.testing.images import FakeImageSource
from lambkin.testing.runtime import FakeRuntimes
from lambkin.testing.sandbox import FakeSandboxBackend
from lambkin.testing.versions import FakeVersion


async def settle() -> None:
    """Lets every task that can run, run (nothing here waits on time)."""
    for _ in range(50):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool]) -> None:
    """Returns once `condition()` holds (a deadline, so a broken test fails instead of hanging)."""
    async with asyncio.timeout(10):
        while not condition():
            await settle()


async def test_starts_beyond_the_slots_wait_and_take_freed_slots_in_arrival_order() -> None:
    gate = InitGate(slots=2)
    admitted: list[str] = []

    async def start(name: str) -> None:
        if await gate.enter("fn", None):
            admitted.append(name)

    tasks = [asyncio.ensure_future(start(name)) for name in "abcde"]
    await settle()
    assert admitted == ["a", "b"] and gate.initializing == 2 and gate.queued() == 3
    gate.leave("fn")
    await settle()
    assert admitted == ["a", "b", "c"]
    gate.leave("fn")
    gate.leave("fn")
    await settle()
    assert admitted == ["a", "b", "c", "d", "e"] and gate.queued() == 0
    await asyncio.gather(*tasks)


async def test_a_queued_start_whose_callers_were_served_gives_its_slot_to_the_next() -> None:
    gate = InitGate(slots=1)
    unserved = {"served": 1, "waiting": 1}
    outcomes: dict[str, bool] = {}

    async def start(name: str) -> None:
        outcomes[name] = await gate.enter("fn", lambda: unserved[name])

    first = asyncio.ensure_future(start("waiting"))
    await settle()
    queued = [asyncio.ensure_future(start(name)) for name in ("served", "waiting")]
    await settle()
    unserved["served"] = 0  # a warm environment took its caller meanwhile
    gate.leave("fn")
    await asyncio.gather(first, *queued)
    assert outcomes == {"waiting": True, "served": False}
    assert gate.initializing == 1


async def test_a_start_cancelled_after_it_was_woken_passes_its_slot_on() -> None:
    gate = InitGate(slots=1)
    assert await gate.enter("fn", None)
    woken = asyncio.ensure_future(gate.enter("fn", None))
    later = asyncio.ensure_future(gate.enter("fn", None))
    await settle()
    gate.leave("fn")  # wakes `woken`, which is cancelled before it resumes
    woken.cancel()
    assert await later is True
    assert gate.initializing == 1 and gate.queued() == 0


async def test_a_newcomer_never_takes_the_slot_of_a_woken_start() -> None:
    gate = InitGate(slots=1)
    assert await gate.enter("fn", None)
    woken = asyncio.ensure_future(gate.enter("fn", None))
    await settle()
    gate.leave("fn")
    newcomer = asyncio.ensure_future(gate.enter("fn", None))
    assert await woken is True
    await settle()
    assert not newcomer.done()
    gate.leave("fn")
    assert await newcomer is True


async def test_a_freed_slot_goes_to_the_function_with_the_fewest_inits_under_way() -> None:
    gate = InitGate(slots=2)
    admitted: list[str] = []

    async def start(function: str) -> None:
        assert await gate.enter(function, None)
        admitted.append(function)

    tasks = [asyncio.ensure_future(start(function)) for function in ["burst"] * 6 + ["quiet"]]
    await settle()
    assert admitted == ["burst", "burst"]
    gate.leave("burst")  # the quiet function's start passes the burst's four queued before it
    await settle()
    assert admitted == ["burst", "burst", "quiet"]
    gate.leave("burst")
    gate.leave("quiet")
    await settle()
    assert admitted == ["burst", "burst", "quiet", "burst", "burst"]
    gate.leave("burst")
    gate.leave("burst")
    await asyncio.gather(*tasks)
    assert admitted == ["burst", "burst", "quiet"] + ["burst"] * 4 and gate.initializing == 2


@dataclass
class World:
    pools: Pools
    backend: FakeSandboxBackend
    runtimes: FakeRuntimes

    async def invoke(self, version: FakeVersion, event: dict[str, object]) -> InvocationResult:
        pool, env = await self.pools.take(version)
        try:
            invocation = Invocation("req", json.dumps(event).encode(), version.function_arn)
            return await env.invoke(invocation, 3.0)
        finally:
            self.pools.give_back(pool, env)

    def sandboxes_of(self, version: FakeVersion) -> int:
        return sum(
            1 for s in self.backend.sandboxes if dict(s.spec.env)["AWS_LAMBDA_FUNCTION_NAME"] == version.name
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Pools on a host of two init slots, whose runtimes hold their init at gate("init")."""
    backend = FakeSandboxBackend()
    runtimes = FakeRuntimes(backend, init="gate")
    store = LogStore(tmp_path / "logs")
    pools = Pools(backend, FakeImageSource(), store, PoolSettings(tick_s=3600, max_parallel_starts=2))
    runner = asyncio.ensure_future(pools.run())
    await asyncio.sleep(0)
    yield World(pools, backend, runtimes)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await runtimes.stop()
    store.close()


async def test_a_burst_inits_no_more_environments_at_once_than_the_host_has_slots(world: World) -> None:
    one, other = FakeVersion(), dataclasses.replace(FakeVersion(), name="other", function_arn="arn:other")
    calls = [
        asyncio.ensure_future(world.invoke(version, {"caller": i}))
        for i in range(4)
        for version in (one, other)
    ]
    init = world.runtimes.gate("init")
    await init.reached(2)
    await settle()
    assert init.held == 2 and len(world.backend.sandboxes) == 2  # the other six wait for a slot
    init.open()
    results = await asyncio.gather(*calls)
    assert [r.outcome for r in results] == [
        Success(json.dumps({"caller": i}).encode()) for i in range(4) for _ in (one, other)
    ]
    gate = world.pools.gate  # starts admitted before the last caller was served end their init
    await until(lambda: gate.initializing == 0 and gate.queued() == 0)


async def test_a_queued_caller_takes_the_environment_that_finishes_its_event_first(world: World) -> None:
    one, other = FakeVersion(), dataclasses.replace(FakeVersion(), name="other", function_arn="arn:other")
    world.runtimes.init = "ok"
    busy = world.runtimes.gate("busy")
    first = asyncio.ensure_future(world.invoke(one, {"do": "gate", "gate": "busy"}))
    await busy.reached(1)
    world.runtimes.init = "gate"
    slow = [asyncio.ensure_future(world.invoke(other, {"slow": i})) for i in range(2)]  # both slots
    await world.runtimes.gate("init").reached(2)
    queued = asyncio.ensure_future(world.invoke(one, {"queued": True}))
    await settle()
    busy.open()  # the first environment finishes its event: the queued caller takes it
    assert (await queued).outcome == Success(b'{"queued": true}')
    world.runtimes.gate("init").open()
    await asyncio.gather(first, *slow)
    gate = world.pools.gate
    await until(lambda: gate.initializing == 0 and gate.queued() == 0)
    assert world.sandboxes_of(one) == 1  # the start queued for that caller was dropped, never created
