"""The Invoker over real pools of fake sandboxes: leases, retries of events that never reached a runtime."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambkin.environments.pool import Pools, PoolSettings
from lambkin.environments.results import FunctionError, Success
from lambkin.invoke.concurrency import RESERVED_LIMIT, ConcurrencyLimiter, Throttled
from lambkin.invoke.invoker import InvalidClientContext, Invoker, InvokeRequest, InvokeResult
from lambkin.logs.store import LogStore
from lambkin.testing.images import FakeImageSource
from lambkin.testing.runtime import FakeRuntimes
from lambkin.testing.sandbox import FakeSandboxBackend
from lambkin.testing.versions import FakeVersion


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Invoker, FakeSandboxBackend, FakeRuntimes]]:
    backend = FakeSandboxBackend()
    runtimes = FakeRuntimes(backend)
    store = LogStore(tmp_path)
    pools = Pools(backend, FakeImageSource(), store, PoolSettings(tick_s=3600))
    runner = asyncio.ensure_future(pools.run())
    await asyncio.sleep(0)
    yield Invoker(ConcurrencyLimiter(10), pools), backend, runtimes
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await runtimes.stop()
    store.close()


def request(event: object, **extra: str) -> InvokeRequest:
    return InvokeRequest(json.dumps(event).encode(), FakeVersion().function_arn, **extra)


async def test_invoke_and_client_context(world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes]) -> None:
    invoker, _, _ = world
    result = await invoker.invoke(FakeVersion(), request({"a": 1}, request_id="r1"))
    assert result.request_id == "r1"
    assert result.outcome == Success(b'{"a": 1}')
    with pytest.raises(InvalidClientContext):
        await invoker.invoke(FakeVersion(), request({}, client_context="%%%"))


async def test_init_failure_is_the_callers_outcome(
    world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes],
) -> None:
    invoker, _, runtimes = world
    runtimes.init = "error"
    result = await invoker.invoke(FakeVersion(), request({}))
    assert isinstance(result.outcome, FunctionError)
    assert result.outcome.error_type == "Runtime.ImportModuleError"


async def test_event_goes_to_another_environment_when_the_first_is_gone(
    world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes],
) -> None:
    invoker, backend, runtimes = world
    await invoker.invoke(FakeVersion(), request({}))
    [env] = invoker.pools.environments()
    assert env.api is not None
    await runtimes.hang_up(runtimes.clients[0])  # the runtime dies with its /next pending...
    assert not env.api.connections
    backend.sandboxes[0].exit()  # ...and its sandbox ends, unnoticed yet when the next event comes
    result = await invoker.invoke(FakeVersion(), request({"again": True}))
    assert result.outcome == Success(b'{"again": true}')
    assert len(backend.sandboxes) == 2


async def test_reserved_zero_throttles(world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes]) -> None:
    invoker, backend, _ = world
    with pytest.raises(Throttled):
        await invoker.invoke(FakeVersion(reserved_concurrency=0), request({}))
    assert backend.sandboxes == []


class RoleGone(Exception):
    code = "InvalidParameterValueException"
    message = "The role defined for the function cannot be assumed by Lambda."


async def test_a_start_lambkin_refuses_is_the_callers_error_not_a_function_result(tmp_path: Path) -> None:
    def refuse(version: object) -> dict[str, str]:
        raise RoleGone()

    store = LogStore(tmp_path)
    pools = Pools(
        FakeSandboxBackend(), FakeImageSource(), store, PoolSettings(tick_s=3600), credentials=refuse
    )
    runner = asyncio.ensure_future(pools.run())
    await asyncio.sleep(0)
    try:
        with pytest.raises(RoleGone):
            await Invoker(ConcurrencyLimiter(10), pools).invoke(FakeVersion(), request({}))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        store.close()


class Elsewhere:
    """A placement that runs every invoke on a peer (its result made up), or none."""

    def __init__(self, result: InvokeResult | None) -> None:
        self.result = result
        self.requests: list[InvokeRequest] = []

    async def elsewhere(self, version: object, request: InvokeRequest) -> InvokeResult | None:
        self.requests.append(request)
        return self.result


class CountingQuota:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.taken: list[tuple[str, int]] = []
        self.given: list[str] = []

    async def take(self, key: str, limit: int) -> None:
        if self.refuse:
            raise Throttled(RESERVED_LIMIT)
        self.taken.append((key, limit))

    def give(self, key: str) -> None:
        self.given.append(key)


async def test_an_invoke_placed_on_a_peer_does_not_run_here(
    world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes],
) -> None:
    invoker, backend, _ = world
    there = InvokeResult("peer", Success(b"there"), b"")
    invoker.placement = placement = Elsewhere(there)
    assert await invoker.invoke(FakeVersion(), request({})) is there
    assert backend.sandboxes == [] and invoker.concurrency.in_flight(FakeVersion().name) == 0
    assert placement.requests[0].request_id  # the id is chosen before the hop, so both nodes log the same
    with pytest.raises(InvalidClientContext):  # refused before any hop
        await invoker.invoke(FakeVersion(), request({}, client_context="%%%"))
    assert len(placement.requests) == 1


async def test_an_invoke_placed_here_takes_the_clusters_concurrency(
    world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes],
) -> None:
    invoker, _, _ = world
    invoker.placement = Elsewhere(None)
    invoker.quota = quota = CountingQuota()
    await invoker.invoke(FakeVersion(), request({}))
    await invoker.invoke(FakeVersion(name="r", reserved_concurrency=3), request({}))
    assert quota.taken == [("", 10), ("r", 3)]
    assert quota.given == ["", "r"]


async def test_a_cluster_throttle_leaves_nothing_in_flight(
    world: tuple[Invoker, FakeSandboxBackend, FakeRuntimes],
) -> None:
    invoker, backend, _ = world
    invoker.quota = CountingQuota(refuse=True)
    with pytest.raises(Throttled):
        await invoker.invoke(FakeVersion(reserved_concurrency=2), request({}))
    assert invoker.concurrency.in_flight(FakeVersion().name) == 0 and backend.sandboxes == []
