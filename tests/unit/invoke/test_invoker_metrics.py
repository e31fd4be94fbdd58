"""The Invoker and the pools count what they run: outcomes, durations, a cold start with its phases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambkin.environments.lifecycle import EnvState
from lambkin.environments.pool import Pools, PoolSettings
from lambkin.invoke.concurrency import ConcurrencyLimiter, Throttled
from lambkin.invoke.invoker import Invoker, InvokeRequest
from lambkin.logs.store import LogStore
from lambkin.metrics.recorder import Recorder
from lambkin.metrics.series import Outcome, Phase
from lambkin.testing.images import FakeImageSource
from lambkin.testing.runtime import FakeRuntimes
from lambkin.testing.sandbox import FakeSandboxBackend
from lambkin.testing.versions import FakeVersion

World = tuple[Invoker, Recorder, FakeRuntimes]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    backend = FakeSandboxBackend()
    runtimes = FakeRuntimes(backend)
    store = LogStore(tmp_path)
    recorder = Recorder()
    pools = Pools(backend, FakeImageSource(), store, PoolSettings(tick_s=3600), metrics=recorder)
    runner = asyncio.ensure_future(pools.run())
    await asyncio.sleep(0)
    yield Invoker(ConcurrencyLimiter(10), pools, metrics=recorder), recorder, runtimes
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await runtimes.stop()
    store.close()


def request() -> InvokeRequest:
    return InvokeRequest(b"{}", FakeVersion().function_arn)


async def test_successes_and_one_cold_start_with_every_phase(world: World) -> None:
    invoker, recorder, _ = world
    version = FakeVersion()
    for _ in range(3):
        await invoker.invoke(version, request())
    [view] = recorder.snapshot().series
    assert (view.function, view.version) == (version.name, version.version)
    assert view.outcomes[Outcome.SUCCESS] == 3
    assert view.duration.count == 3
    assert view.cold_starts == 1
    assert [phase.count for phase in view.phases] == [1] * len(Phase)
    [census] = invoker.pools.census()
    assert census.states == {EnvState.IDLE: 1}


async def test_init_failures_and_throttles_are_counted_without_a_duration(world: World) -> None:
    invoker, recorder, runtimes = world
    runtimes.init = "error"
    await invoker.invoke(FakeVersion(), request())
    with pytest.raises(Throttled):
        await invoker.invoke(FakeVersion(reserved_concurrency=0), request())
    [view] = recorder.snapshot().series
    assert view.outcomes[Outcome.INIT_FAILURE] == 1
    assert view.outcomes[Outcome.THROTTLE] == 1
    assert view.duration.count == 0
    assert view.cold_starts == 0
