"""Pools of execution environments per function version: warm reuse, cold starts admitted by the host's
init slots, freezing, reaping, retiring at a maximum age, draining."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.environments.admission import InitGate
from lambkin.environments.environment import Environment
from lambkin.environments.init_failure import InitFailed, InitFailure, InitTimedOut, init_attempts
from lambkin.environments.lifecycle import EnvState, InvalidStateTransition
from lambkin.environments.ports import CredentialSource, ImageSource, PreparedImage, VersionConfig
from lambkin.environments.scaling import IdleView, housekeeping, starts_to_launch, too_old
from lambkin.environments.spec import Placement, sandbox_spec
from lambkin.http11.busy_poll import BusyPoll
from lambkin.logs import lines
from lambkin.logs.store import LogStore
from lambkin.logs.stream import LogStream
from lambkin.loop_cpu import CoreWait
from lambkin.metrics.recorder import Recorder
from lambkin.metrics.series import Phase, Series
from lambkin.sandbox.spec import SandboxBackend

log = logging.getLogger("lambkin.environments")

AHEAD_RETRY_S = 30.0  # a failed start for provisioned concurrency is tried again after this long


@dataclass(frozen=True)
class PoolKey:
    """Environments are interchangeable only within one key: a code or configuration update changes it."""

    function_arn: str
    version: str
    code_sha256: str
    revision_id: str

    @classmethod
    def of(cls, version: VersionConfig) -> PoolKey:
        return cls(version.function_arn, version.version, version.code_sha256, version.revision_id)

    def matches(self, version: VersionConfig) -> bool:
        """Whether `version` belongs to this key (`PoolKey.of(version) == self`, without making a key)."""
        return (
            self.revision_id == version.revision_id
            and self.code_sha256 == version.code_sha256
            and self.version == version.version
            and self.function_arn == version.function_arn
        )


@dataclass(frozen=True)
class PoolSettings:
    region: str = "us-east-1"
    idle_timeout_s: float = 300.0
    freeze_after_s: float = 0.5
    max_parallel_starts: int = 4  # inits under way at once on this host, every function's (its cores)
    tick_s: float = 0.25
    # An environment takes no invocation after this long (its credentials last a while longer).
    max_age_s: float = 6 * 3600.0
    busy_poll_s: float = 0.001  # the loop polls instead of sleeping for invocations quicker than this


@dataclass(eq=False)
class VersionPool:
    key: PoolKey
    version: VersionConfig
    idle: list[Environment] = field(default_factory=list)
    envs: set[Environment] = field(default_factory=set)
    waiters: deque[asyncio.Future[Environment]] = field(default_factory=deque)
    starting: int = 0  # starts launched: queued for an init slot or initializing
    initializing: int = 0  # starts past the host's admission, their sandbox created or init under way
    provisioned: int = 0  # environments kept initialized however idle (provisioned concurrency)
    ahead_failure: str | None = None  # why the last start for provisioned concurrency failed
    ahead_retry_at: float = 0.0  # no such start before this (clock) time after a failure
    draining: bool = False
    image: PreparedImage | None = None
    image_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    series: Series | None = None  # where its invocations and cold starts are counted (metrics on)

    def live_waiters(self) -> int:
        return sum(1 for w in self.waiters if not w.done())

    def initialized(self) -> int:
        """Environments past init (an admitted start is in `envs` once its sandbox exists)."""
        return max(0, len(self.envs) - self.initializing)


@dataclass
class PoolCensus:
    """One function version's environments here, by state, and its provisioned concurrency."""

    function: str
    version: str
    states: dict[EnvState, int]
    provisioned: int


class Pools:
    """Every pool of this node. `run()` owns every environment's task and the housekeeping loop."""

    def __init__(
        self,
        backend: SandboxBackend,
        images: ImageSource,
        logs: LogStore,
        settings: PoolSettings,
        clock: Clock = SYSTEM_CLOCK,
        credentials: CredentialSource | None = None,
        metrics: Recorder | None = None,
        gate: InitGate | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        self.credentials = credentials
        self.images = images
        self.logs = logs
        self.settings = settings
        self.clock = clock
        self._current: dict[tuple[str, str], VersionPool] = {}
        self._pools: set[VersionPool] = set()
        self._group: asyncio.TaskGroup | None = None
        self.poll = BusyPoll(settings.busy_poll_s) if settings.busy_poll_s > 0 else None
        self.core = CoreWait()  # sampled by the housekeeping: which write first when a runtime answers
        # the host's init slots: shared by the pools of every region this server serves (one host)
        self.gate = gate or InitGate(settings.max_parallel_starts)

    async def run(self) -> None:
        """Runs until cancelled; cancelling it destroys every environment."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                await self._housekeeping()
            finally:
                self._group = None

    def environments(self) -> list[Environment]:
        return [env for pool in self._pools for env in pool.envs]

    def by_function(self) -> list[tuple[str, str, Environment]]:
        """Every environment with its function's ARN and version, for the console."""
        return [(pool.key.function_arn, pool.key.version, env) for pool in self._pools for env in pool.envs]

    def census(self) -> list[PoolCensus]:
        """Every pool's environments by state (a sandbox being made counts as initializing), read at once."""
        counted: dict[tuple[str, str], PoolCensus] = {}
        for pool in self._pools:
            slot = (pool.version.name, pool.version.version)
            census = counted.get(slot)
            if census is None:
                census = counted[slot] = PoolCensus(slot[0], slot[1], {}, 0)
            census.provisioned += pool.provisioned
            for env in pool.envs:
                state = EnvState.INITIALIZING if env.state is EnvState.CREATED else env.state
                if state is not EnvState.DEAD:
                    census.states[state] = census.states.get(state, 0) + 1
        return list(counted.values())

    def in_use(self) -> int:
        """Invocations under way here: environments lent to a caller, and callers waiting for one."""
        return sum(
            pool.live_waiters() + sum(1 for env in pool.envs if env.state is EnvState.BUSY)
            for pool in self._pools
        )

    async def take(self, version: VersionConfig) -> tuple[VersionPool, Environment]:
        """A busy environment of this version for one invocation: warm if one is idle, else a cold start;
        the caller hands it back with `give_back(pool, env)`.

        Raises InitFailed when the cold start meant for this caller fails.
        """
        pool = self._pool_for(version)
        return pool, await self._take(pool)

    def has_idle(self, version: VersionConfig) -> bool:
        """Whether an environment of this version is idle here (warm, perhaps frozen): it would run at once."""
        pool = self._current.get((version.function_arn, version.version))
        return pool is not None and bool(pool.idle) and pool.key.matches(version)

    def idle_versions(self) -> list[VersionConfig]:
        """The versions that have an environment idle here."""
        return [pool.version for pool in self._current.values() if pool.idle]

    def full(self, version: VersionConfig) -> bool:
        """Whether an invocation of this version would wait here for an init slot: none of its environments
        is idle and every init slot of the host is taken."""
        return not self.has_idle(version) and self.gate.initializing >= self.gate.slots

    # pools and draining
    def _pool_for(self, version: VersionConfig) -> VersionPool:
        slot = (version.function_arn, version.version)
        pool = self._current.get(slot)
        if pool is not None and pool.key.matches(version):
            return pool
        if pool is not None:
            self._drain(pool)
        pool = VersionPool(key=PoolKey.of(version), version=version)
        if self.metrics is not None:
            pool.series = self.metrics.series(version.name, version.version)
        self._current[slot] = pool
        self._pools.add(pool)
        return pool

    def drain(self, function_arn: str) -> None:
        """Retires every pool of a function (deleted or updated): idle environments go now, busy ones after."""
        for slot, pool in list(self._current.items()):
            if slot[0] == function_arn:
                del self._current[slot]
                self._drain(pool)

    def _drain(self, pool: VersionPool) -> None:
        pool.draining = True
        for env in pool.idle:
            env.kill()
        pool.idle.clear()
        self._discard_if_empty(pool)

    def _discard_if_empty(self, pool: VersionPool) -> None:
        if pool.draining and not pool.envs and not pool.starting and not pool.waiters:
            self._pools.discard(pool)

    # taking and giving back
    async def _take(self, pool: VersionPool) -> Environment:
        while True:
            env = pool.idle.pop() if pool.idle else None
            if env is None:
                waiter: asyncio.Future[Environment] = asyncio.get_running_loop().create_future()
                pool.waiters.append(waiter)
                self._plan(pool)
                try:
                    env = await waiter
                except asyncio.CancelledError:
                    if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                        self._offer(pool, waiter.result())
                    raise
                finally:
                    with contextlib.suppress(ValueError):
                        pool.waiters.remove(waiter)
            try:
                await env.acquire()
            except InvalidStateTransition:
                continue  # died while idle
            except Exception:
                log.exception("thawing environment %s failed", env.id)
                env.kill()
                continue
            return env

    def give_back(self, pool: VersionPool, env: Environment) -> None:
        if env.healthy and not pool.draining and not self._aged(env):
            env.release()
            self._offer(pool, env)
        else:
            env.kill()

    def _aged(self, env: Environment) -> bool:
        return too_old(env.born, self.clock.monotonic(), self.settings.max_age_s)

    def _offer(self, pool: VersionPool, env: Environment) -> None:
        """Gives an idle environment to the longest-waiting caller, else keeps it idle."""
        if pool.draining:
            env.kill()
            return
        while pool.waiters:
            waiter = pool.waiters.popleft()
            if not waiter.done():
                waiter.set_result(env)
                return
        pool.idle.append(env)

    def _fail_one(self, pool: VersionPool, failure: InitFailed) -> None:
        while pool.waiters:
            waiter = pool.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(failure)
                return

    # provisioned concurrency
    def provision(self, targets: list[tuple[VersionConfig, int]]) -> list[tuple[int, str | None]]:
        """Keeps each version's count of environments initialized, and no others beyond demand; returns how
        many of each are initialized now, and why starting them last failed (retried every AHEAD_RETRY_S)."""
        if self._group is None:
            return [(0, None) for _ in targets]
        wanted: dict[PoolKey, int] = {}
        for version, count in targets:
            key = PoolKey.of(version)
            wanted[key] = wanted.get(key, 0) + count
        for pool in self._pools:
            pool.provisioned = 0 if pool.draining else wanted.get(pool.key, 0)
        ready = []
        for version, _ in targets:
            pool = self._pool_for(version)
            pool.provisioned = wanted[pool.key]
            missing = pool.provisioned - pool.initialized() - pool.starting
            # at most max_parallel_starts at a time: a large config ramps up over successive ticks
            missing = min(missing, self.settings.max_parallel_starts - pool.starting)
            if missing > 0 and self.clock.monotonic() >= pool.ahead_retry_at:
                for _ in range(missing):
                    pool.starting += 1
                    self._group.create_task(self._environment(pool, ahead=True))
            ready.append((pool.initialized(), pool.ahead_failure))
        return ready

    # cold starts
    def _plan(self, pool: VersionPool) -> None:
        count = starts_to_launch(pool.live_waiters(), pool.starting)
        if count and self._group is None:
            raise RuntimeError("environment pools are not running")
        for _ in range(count):
            pool.starting += 1
            assert self._group is not None
            self._group.create_task(self._environment(pool))

    async def _environment(self, pool: VersionPool, ahead: bool = False) -> None:
        """One environment's whole life, in its own task: an init slot of the host, init (retried once),
        serve, until it ends. `ahead`: started for provisioned concurrency, not for a caller."""
        failure: InitFailed | None = None
        starting = True
        initializing = False
        try:
            unserved = None if ahead else lambda: pool.live_waiters() - pool.initializing
            if not await self.gate.enter(pool, unserved):
                return  # its callers were served meanwhile, by environments that finished an event or init
            initializing = True
            pool.initializing += 1
            try:
                credentials = self.credentials(pool.version) if self.credentials is not None else {}
            except Exception as refusal:
                failure = InitFailed(InitFailure.SANDBOX, _describe(refusal), refusal=refusal)
                return
            # What a timed-out attempt printed stays in the caller's log tail.
            earlier = b""
            timed_out: InitTimedOut | None = None
            for phase, limit in init_attempts(ahead, float(pool.version.timeout)):
                env, phases = await self._create(pool, credentials)
                env.logs.carry(earlier)
                try:
                    async with running(env), asyncio.TaskGroup() as tasks:
                        try:
                            await env.start()
                        except InitFailed as exc:  # nothing to run: Runtime.InvalidEntrypoint
                            exc.log_tail = env.logs.end()
                            failure = exc
                            return
                        watcher = tasks.create_task(env.watch_exit())
                        try:
                            await env.initialize(limit, phase)
                        except InitTimedOut as exc:
                            earlier, timed_out = env.logs.end(), exc
                            watcher.cancel()
                            continue
                        except InitFailed as exc:
                            exc.log_tail = env.logs.end()
                            failure = exc
                            watcher.cancel()
                            return
                        if pool.series is not None:
                            phases[Phase.SANDBOX_CREATION] = env.sandbox_ms
                            phases[Phase.RUNTIME_INIT] = env.init_ms
                            pool.series.cold_start(phases)
                        if ahead:
                            env.initialized_ahead()
                            pool.ahead_failure = None
                        pool.starting -= 1
                        starting = False
                        self._offer(pool, env)
                        self._init_over(pool)
                        initializing = False
                        self._plan(pool)  # callers still waiting beyond the starts under way
                        await watcher
                        return
                finally:
                    pool.envs.discard(env)
                    if env in pool.idle:
                        pool.idle.remove(env)
            start = timed_out.start if timed_out is not None else None
            failure = InitFailed(InitFailure.TIMEOUT, "init timed out", log_tail=earlier, start=start)
        except Exception as exc:
            log.exception("environment of %s failed", pool.key.function_arn)
            failure = InitFailed(InitFailure.SANDBOX, _describe(exc))
        finally:
            if initializing:
                self._init_over(pool)
            if starting:
                pool.starting -= 1
            if ahead and failure is not None:
                pool.ahead_failure = _failure_reason(failure)
                pool.ahead_retry_at = self.clock.monotonic() + AHEAD_RETRY_S
            if failure is not None:
                self._fail_one(pool, failure)
            if pool.live_waiters() and self._group is not None:
                self._plan(pool)
            self._discard_if_empty(pool)

    def _init_over(self, pool: VersionPool) -> None:
        """Gives the init slot back: a queued start takes it (`scaling.next_start`)."""
        pool.initializing -= 1
        self.gate.leave(pool)

    async def _create(
        self, pool: VersionPool, credentials: Mapping[str, str]
    ) -> tuple[Environment, dict[Phase, float]]:
        """A new environment of the pool's version, and the image's phases of its start (none once the pool
        holds the image)."""
        version = pool.version
        phases: dict[Phase, float] = {}
        async with pool.image_lock:
            if pool.image is None:
                pool.image = await self.images.prepare(version.resolved_image_uri or version.image_uri)
                phases[Phase.IMAGE_RESOLUTION] = pool.image.resolve_ms
                phases[Phase.LAYER_UNPACK] = pool.image.unpack_ms
        image = pool.image
        env_id = secrets.token_hex(16)
        stream = lines.stream_name(version.version, datetime.datetime.now(datetime.UTC), env_id)
        placement = Placement(env_id=env_id, log_stream=stream, region=self.settings.region)
        spec = sandbox_spec(version, image.config, image.lower_dirs, placement, credentials)
        logs = LogStream(self.logs, version.log_group_name, stream)
        logs.begin()  # init output belongs to the first invocation's tail
        env = Environment(
            spec, self.backend, logs, version.version, version.memory_size, self.clock, self.poll, self.core
        )
        env.task = asyncio.current_task()
        pool.envs.add(env)
        return env, phases

    # housekeeping
    async def _housekeeping(self) -> None:
        last_expiry = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.settings.tick_s)
            self.core.sample()
            now = self.clock.monotonic()
            self.logs.flush()
            await self.tidy(now)
            if now - last_expiry > 3600:
                last_expiry = now
                await asyncio.to_thread(self.logs.expire)

    async def tidy(self, now: float) -> None:
        """One housekeeping pass: retire environments past their maximum age, reap those idle too long,
        freeze those idle a little while."""
        settings = self.settings
        for pool in list(self._pools):
            views = [IdleView(e.id, e.state, e.idle_since, e.born) for e in pool.idle]
            plan = housekeeping(
                views, now, settings.freeze_after_s, settings.idle_timeout_s, settings.max_age_s
            )
            for env in [e for e in pool.idle if e.id in plan.retire]:  # provisioned ones are started anew
                pool.idle.remove(env)
                env.kill()
            reapable = max(0, len(pool.envs) - pool.provisioned)  # provisioned ones stay, however idle
            for env in [e for e in pool.idle if e.id in plan.reap][:reapable]:
                pool.idle.remove(env)
                env.kill()
            for env in [e for e in pool.idle if e.id in plan.freeze]:
                try:
                    await env.freeze()
                except Exception:
                    log.exception("freezing environment %s failed", env.id)
                    if env in pool.idle:
                        pool.idle.remove(env)
                    env.kill()


@contextlib.asynccontextmanager
async def running(env: Environment) -> AsyncIterator[None]:
    """An environment's sandbox, from its creation to its destruction (what `open()` made, as far as it got,
    is closed on the way out)."""
    try:
        await env.open()
        yield
    finally:
        await env.close()


def _failure_reason(failure: InitFailed) -> str:
    """A provisioned start's failure as a StatusReason: the init error's type, else what ended it."""
    if failure.error is not None:
        return f"Init failed: {failure.error.error_type}"
    return f"Init failed ({failure.kind.value}): {failure.detail}"


def _describe(exc: BaseException) -> str:
    """The innermost error's text (task groups wrap the real one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__
