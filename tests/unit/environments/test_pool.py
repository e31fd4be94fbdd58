"""Pools with fake sandboxes and fake runtimes: warm reuse, bursts, failures, timeouts, draining, reaping,
credentials per environment and retirement at a maximum age."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambkin.environments.environment import (
    Environment,
    EnvironmentLost,
    Invocation,
    InvocationResult,
)
from lambkin.environments.init_failure import InitFailed
from lambkin.environments.lifecycle import EnvState
from lambkin.environments.pool import Pools, PoolSettings
from lambkin.environments.ports import VersionConfig
from lambkin.environments.results import FunctionError, Success
from lambkin.logs.store import LogStore
from lambkin.testing.clock import ManualClock
from lambkin.testing.images import FakeImageSource
from lambkin.testing.runtime import FakeRuntimes
from lambkin.testing.sandbox import FakeSandboxBackend
from lambkin.testing.versions import FakeVersion


class Sessions:
    """A credential source: numbered keys per environment, or a refusal when one is set."""

    def __init__(self) -> None:
        self.issued = 0
        self.refusal: Exception | None = None

    def __call__(self, version: VersionConfig) -> dict[str, str]:
        if self.refusal is not None:
            raise self.refusal
        self.issued += 1
        return {
            "AWS_ACCESS_KEY_ID": f"ASIA{self.issued}",
            "AWS_SESSION_TOKEN": f"{version.name}-{self.issued}",
        }


class RoleGone(Exception):
    code = "InvalidParameterValueException"
    message = "The role defined for the function cannot be assumed by Lambda."


@dataclass
class World:
    pools: Pools
    backend: FakeSandboxBackend
    runtimes: FakeRuntimes
    images: FakeImageSource
    store: LogStore
    clock: ManualClock
    sessions: Sessions

    async def invoke(
        self, version: FakeVersion, event: dict[str, object], request_id: str = "req"
    ) -> InvocationResult:
        pool, env = await self.pools.take(version)
        try:
            return await env.invoke(
                Invocation(request_id, json.dumps(event).encode(), version.function_arn), 3.0
            )
        finally:
            self.pools.give_back(pool, env)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    backend = FakeSandboxBackend()
    runtimes = FakeRuntimes(backend)
    images = FakeImageSource()
    store = LogStore(tmp_path / "logs")
    clock = ManualClock(1000.0)
    sessions = Sessions()
    settings = PoolSettings(idle_timeout_s=60, freeze_after_s=1, tick_s=3600, max_age_s=600)
    pools = Pools(backend, images, store, settings, clock, credentials=sessions)
    runner = asyncio.ensure_future(pools.run())
    await asyncio.sleep(0)
    yield World(pools, backend, runtimes, images, store, clock, sessions)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await runtimes.stop()
    store.close()


async def test_echo_then_warm_reuse_of_the_same_environment(world: World) -> None:
    version = FakeVersion()
    first = await world.invoke(version, {"a": 1}, "r1")
    second = await world.invoke(version, {"a": 2}, "r2")
    assert first.outcome == Success(b'{"a": 1}')
    assert second.outcome == Success(b'{"a": 2}')
    assert len(world.backend.sandboxes) == 1
    assert first.init_duration_ms is not None and second.init_duration_ms is None
    assert world.images.prepared == ["localhost/app@sha256:aa"]


async def test_sandbox_spec_merges_environment_as_lambda_does(world: World) -> None:
    version = FakeVersion(
        environment={"USER_VAR": "x", "AWS_LAMBDA_FUNCTION_NAME": "spoof", "IMAGE_ONLY": "2"}
    )
    await world.invoke(version, {})
    spec = world.backend.sandboxes[0].spec
    env = dict(spec.env)
    assert env["USER_VAR"] == "x"
    assert env["IMAGE_ONLY"] == "2"  # the function's Environment wins over the image's ENV
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"  # reserved variables win over both
    assert env["AWS_REGION"] == "us-east-1"
    assert env["PATH"] == "/var/lang/bin:/usr/bin"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].split("/")[3].startswith("[$LATEST]")
    assert env["TZ"] == ":UTC"
    assert spec.args == ("/lambda-entrypoint.sh", "app.handler")
    assert spec.cwd == "/var/task"
    assert spec.memory_mb == 128


async def test_image_config_overrides(world: World) -> None:
    version = FakeVersion(
        entry_point=("/bin/sh",), command=("-c", "exec bootstrap"), working_directory="/app"
    )
    await world.invoke(version, {})
    spec = world.backend.sandboxes[0].spec
    assert spec.args == ("/bin/sh", "-c", "exec bootstrap")
    assert spec.cwd == "/app"


async def test_burst_of_n_starts_n_environments_in_parallel(world: World) -> None:
    version = FakeVersion()
    gate = world.runtimes.gate("burst")
    calls = [
        asyncio.ensure_future(world.invoke(version, {"do": "gate", "gate": "burst"}, f"r{i}"))
        for i in range(5)
    ]
    await gate.reached(5)
    assert sum(1 for e in world.pools.environments() if e.state is EnvState.BUSY) == 5
    assert len(world.backend.sandboxes) == 5
    gate.open()
    results = await asyncio.gather(*calls)
    assert all(r.outcome == Success(b'"opened"') for r in results)


async def test_in_use_counts_invocations_under_way_until_each_is_given_back(world: World) -> None:
    version = FakeVersion()
    await world.invoke(version, {})  # one idle environment: not in use
    assert world.pools.in_use() == 0
    gate = world.runtimes.gate("held")
    calls = [
        asyncio.ensure_future(world.invoke(version, {"do": "gate", "gate": "held"}, f"r{i}"))
        for i in range(3)
    ]
    await gate.reached(3)
    assert world.pools.in_use() == 3
    gate.open()
    await asyncio.gather(*calls)
    assert world.pools.in_use() == 0


async def test_function_error_keeps_the_environment(world: World) -> None:
    version = FakeVersion()
    result = await world.invoke(version, {"do": "error"})
    assert isinstance(result.outcome, FunctionError)
    assert json.loads(result.outcome.payload)["errorMessage"] == "boom"
    await world.invoke(version, {})
    assert len(world.backend.sandboxes) == 1


async def test_init_error_goes_to_the_caller_and_the_next_invoke_starts_afresh(world: World) -> None:
    world.runtimes.init = "error"
    version = FakeVersion()
    with pytest.raises(InitFailed) as caught:
        await world.invoke(version, {}, "r1")
    outcome = caught.value.outcome("r1", 3.0)
    assert outcome.error_type == "Runtime.ImportModuleError"
    assert json.loads(outcome.payload)["errorType"] == "Runtime.ImportModuleError"
    world.runtimes.init = "ok"
    assert (await world.invoke(version, {"b": 1})).outcome == Success(b'{"b": 1}')
    assert len(world.backend.sandboxes) == 2
    assert world.backend.sandboxes[0].destroyed


async def test_runtime_exit_during_init_is_an_exit_error(world: World) -> None:
    world.runtimes.init = "exit"
    with pytest.raises(InitFailed) as caught:
        await world.invoke(FakeVersion(), {}, "r1")
    outcome = caught.value.outcome("r1", 3.0)
    assert json.loads(outcome.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: r1 Error: Runtime exited with error: exit status 2",
    }


async def test_sandbox_creation_failure_fails_the_caller_cleanly(world: World) -> None:
    world.backend.fail_next_create = RuntimeError("no space")
    with pytest.raises(InitFailed) as caught:
        await world.invoke(FakeVersion(), {}, "r1")
    assert caught.value.outcome("r1", 3.0).error_type == "Sandbox.Failure"


async def test_crash_during_invoke_is_an_exit_error_and_the_environment_is_replaced(world: World) -> None:
    version = FakeVersion()
    result = await world.invoke(version, {"do": "crash"}, "r1")
    assert json.loads(result.outcome.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: r1 Error: Runtime exited with error: signal: killed",
    }
    assert (await world.invoke(version, {})).outcome == Success(b"{}")
    assert len(world.backend.sandboxes) == 2


async def test_timeout_kills_the_environment(world: World) -> None:
    version = FakeVersion(timeout=1)
    pool, env = await world.pools.take(version)
    try:
        result = await env.invoke(Invocation("r1", b'{"do": "hang"}', version.function_arn), 0.05)
    finally:
        world.pools.give_back(pool, env)
    assert isinstance(result.outcome, FunctionError)
    assert json.loads(result.outcome.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: r1 Error: Task timed out after 0.05 seconds",
    }
    assert b"Task timed out after 0.05 seconds" in result.log_tail
    await world.invoke(version, {})
    assert len(world.backend.sandboxes) == 2
    await world.backend.sandboxes[0].wait_destroyed()
    assert world.backend.sandboxes[0].destroyed


async def test_each_invocation_times_out_by_its_own_deadline(world: World) -> None:
    version = FakeVersion(timeout=1)
    arn = version.function_arn
    pool, env = await world.pools.take(version)
    try:
        await env.invoke(Invocation("r1", b"{}", arn), 0.05)
        # still running past the deadline of the quick invocation before it: not cut short
        gate = world.runtimes.gate("slow")
        slow = asyncio.ensure_future(
            env.invoke(Invocation("r2", b'{"do": "gate", "gate": "slow"}', arn), 5.0)
        )
        await gate.reached(1)
        await asyncio.sleep(0.1)
        gate.open()
        assert (await slow).outcome == Success(b'"opened"')
        # a shorter budget than the one before it: timed out by its own, not the earlier one's
        hung = await asyncio.wait_for(env.invoke(Invocation("r3", b'{"do": "hang"}', arn), 0.05), 2.0)
    finally:
        world.pools.give_back(pool, env)
    assert isinstance(hung.outcome, FunctionError)
    assert b"Task timed out after 0.05 seconds" in hung.log_tail


async def test_update_drains_old_environments_while_in_flight_invokes_finish(world: World) -> None:
    old = FakeVersion()
    gate = world.runtimes.gate("drain")
    in_flight = asyncio.ensure_future(world.invoke(old, {"do": "gate", "gate": "drain"}))
    await world.invoke(old, {})  # a second, idle environment of the old code
    await gate.reached(1)
    assert len(world.backend.sandboxes) >= 2
    new = dataclasses.replace(old, code_sha256="bb", revision_id="r2")
    assert (await world.invoke(new, {"n": 1})).outcome == Success(b'{"n": 1}')
    old_sandboxes = world.backend.sandboxes[:2]
    assert sum(1 for s in old_sandboxes if s.destroyed or not s.running) >= 0
    gate.open()
    assert (await in_flight).outcome == Success(b'"opened"')
    for old_sandbox in old_sandboxes:
        await old_sandbox.wait_destroyed()
    assert all(s.destroyed for s in old_sandboxes)
    assert [s for s in world.backend.live] == world.backend.sandboxes[2:]


async def test_idle_environments_are_frozen_thawed_on_reuse_and_reaped(world: World) -> None:
    version = FakeVersion()
    await world.invoke(version, {})
    sandbox = world.backend.sandboxes[0]
    world.clock.advance(2)
    await world.pools.tidy(world.clock.monotonic())
    assert sandbox.frozen
    await world.invoke(version, {})
    assert not sandbox.frozen and sandbox.freezes == 1
    world.clock.advance(61)
    await world.pools.tidy(world.clock.monotonic())
    await sandbox.wait_destroyed()
    assert sandbox.destroyed
    assert world.pools.environments() == []


async def test_start_end_report_and_output_lines_in_the_stream(world: World) -> None:
    version = FakeVersion()
    result = await world.invoke(version, {"do": "print"}, "r1")
    tail = result.log_tail.decode()
    lines = tail.splitlines()
    assert lines[0] == "START RequestId: r1 Version: $LATEST"
    assert lines[1] == "hello from r1"
    assert lines[2] == "END RequestId: r1"
    assert lines[3].startswith("REPORT RequestId: r1\tDuration: ")
    assert "\tMemory Size: 128 MB\tMax Memory Used: 16 MB\tInit Duration: " in lines[3]
    assert lines[3].endswith("\t")
    [stream] = [s for s, _ in world.store.streams("/aws/lambda/fn")]
    world.store.flush()
    messages = [e.message for e in world.store.events("/aws/lambda/fn", stream)]
    assert messages[:3] == lines[:3]


async def test_event_is_not_swallowed_when_the_runtime_dies_with_next_pending(world: World) -> None:
    version = FakeVersion()
    await world.invoke(version, {})
    [env] = world.pools.environments()
    assert isinstance(env, Environment)
    # The runtime dies while waiting in /next: its connection closes, then the sandbox exits.
    await world.runtimes.hang_up(world.runtimes.clients[0])
    assert env.api is not None
    assert not env.api.connections
    world.backend.sandboxes[0].exit()
    with pytest.raises(EnvironmentLost):
        await world.invoke(version, {"again": True})
    result = await world.invoke(version, {"again": True})
    assert result.outcome == Success(b'{"again": true}')


async def test_each_environment_gets_credentials_of_its_own_that_nothing_else_replaces(world: World) -> None:
    version = FakeVersion(environment={"AWS_ACCESS_KEY_ID": "from-the-function"})
    await asyncio.gather(*(world.invoke(version, {}, f"r{n}") for n in range(2)))
    keys = {dict(sandbox.spec.env)["AWS_ACCESS_KEY_ID"] for sandbox in world.backend.sandboxes}
    assert keys == {"ASIA1", "ASIA2"}
    assert dict(world.backend.sandboxes[0].spec.env)["AWS_SESSION_TOKEN"].startswith("fn-")


async def test_a_refused_start_fails_its_caller_with_the_refusal_and_creates_no_sandbox(world: World) -> None:
    world.sessions.refusal = RoleGone()
    with pytest.raises(InitFailed) as caught:
        await world.invoke(FakeVersion(), {}, "r1")
    assert caught.value.refusal is world.sessions.refusal
    assert world.backend.sandboxes == []
    world.sessions.refusal = None
    assert (await world.invoke(FakeVersion(), {}, "r2")).outcome == Success(b"{}")


async def test_an_environment_past_its_maximum_age_takes_no_more_invocations(world: World) -> None:
    version = FakeVersion()
    await world.invoke(version, {})
    first = world.backend.sandboxes[0]
    world.clock.advance(30)
    await world.invoke(version, {})
    assert len(world.backend.sandboxes) == 1  # warm, well within its age
    world.clock.advance(571)
    await world.invoke(version, {})  # given back past 600 s of age: retired, not kept
    await first.wait_destroyed()
    await world.invoke(version, {})
    assert len(world.backend.sandboxes) == 2


async def test_housekeeping_retires_idle_environments_past_their_age_even_provisioned_ones(
    world: World,
) -> None:
    version = FakeVersion()
    world.pools.provision([(version, 1)])
    await world.invoke(version, {})
    first = world.backend.sandboxes[0]
    world.clock.advance(30)
    await world.pools.tidy(world.clock.monotonic())
    assert not first.destroyed  # provisioned: kept however idle
    world.clock.advance(600)
    await world.pools.tidy(world.clock.monotonic())
    await first.wait_destroyed()
