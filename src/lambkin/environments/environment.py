"""One execution environment: a sandbox, the Runtime API it talks to, its log stream, and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from dataclasses import dataclass
from typing import Any, NoReturn

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.environments.init_failure import FailedStart, InitFailed, InitFailure, InitTimedOut
from lambkin.environments.lifecycle import EnvState, env_transition
from lambkin.environments.results import (
    RUNTIME_INVALID_ENTRYPOINT,
    Outcome,
    error_message,
    exit_error,
    timeout_error,
)
from lambkin.environments.runtime_api import Event, RuntimeApi
from lambkin.http11.busy_poll import BusyPoll
from lambkin.logs import lines
from lambkin.logs.stream import LogStream
from lambkin.loop_cpu import CoreWait
from lambkin.sandbox.errors import ProcessNotStarted
from lambkin.sandbox.spec import ExitStatus, Sandbox, SandboxBackend, SandboxSpec
from lambkin.watchdog import Watchdog

log = logging.getLogger("lambkin.environments")

PEAK_REFRESH_S = 0.2


class EnvironmentLost(Exception):
    """The sandbox ended before the event reached the runtime: the event may safely go to another one."""


@dataclass(slots=True)
class Invocation:
    """One event for one environment."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str = ""
    trace_id: str = ""
    cognito_identity: str = ""
    tail: bool = True  # the caller wants the log tail (LogType=Tail): END/REPORT written before returning


@dataclass(slots=True)
class InvocationResult:
    outcome: Outcome
    log_tail: bytes
    duration_ms: float
    init_duration_ms: float | None


class Environment:
    """Runs one sandbox at a time for one function version; handles one event at a time.

    `open()` and `close()` own the sandbox from creation to destruction; the pool calls them from the
    environment's own task (`pool.running`), so killing the environment is cancelling that task.
    """

    def __init__(
        self,
        spec: SandboxSpec,
        backend: SandboxBackend,
        logs: LogStream,
        version: str,
        memory_mb: int,
        clock: Clock = SYSTEM_CLOCK,
        poll: BusyPoll | None = None,
        core: CoreWait | None = None,
    ) -> None:
        self.id = spec.id
        self.spec = spec
        self.backend = backend
        self.logs = logs
        self.version = version
        self.memory_mb = memory_mb
        self.clock = clock
        self.state = EnvState.CREATED
        self.idle_since = clock.monotonic()
        self.born = clock.monotonic()
        self.api: RuntimeApi | None = None
        self.sandbox: Sandbox | None = None
        self.task: asyncio.Task[None] | None = None
        self._exit: asyncio.Future[ExitStatus] | None = None
        self._lock = asyncio.Lock()
        self._init_ms: float | None = None  # reported once, by the first invocation's REPORT
        self.sandbox_ms = 0.0  # how long creating its sandbox took
        self.init_ms = 0.0  # how long its runtime's init took (once it succeeded)
        self._started = clock.monotonic()
        self._closing = False
        self._peak = (-PEAK_REFRESH_S, 0)  # (when read, Max Memory Used in MB)
        self.poll = poll
        self.core = core
        self._recent_s: float | None = None  # how long its invocations take (moving average)
        self._owed_s = 0.0  # a suppressed init's time, taken from its first invocation's timeout
        # the invocation in flight: its outcome (settled with None by the sandbox's exit or its timeout) and
        # its deadline, in loop time, watched by one timer that outlives invocations (lambkin/watchdog.py)
        self._outcome: asyncio.Future[Outcome | None] | None = None
        self._watchdog: Watchdog | None = None
        self._server: asyncio.Server | None = None  # serving the Runtime API socket, from open() on

    def move(self, target: EnvState) -> None:
        self.state = env_transition(self.state, target)

    async def open(self) -> None:
        """Creates the sandbox and serves its Runtime API socket; `close()` destroys all of it (the pool
        calls both, around the environment's life: `pool.running`)."""
        loop = asyncio.get_running_loop()
        self.api = api = RuntimeApi(self.core)
        self._exit = loop.create_future()
        self._exit.add_done_callback(self._interrupt)
        out, err = self.logs.sink(1), self.logs.sink(2)
        creating = self.clock.monotonic()
        sandbox = await self.backend.create(self.spec, out, err)
        self.sandbox_ms = (self.clock.monotonic() - creating) * 1000
        self.sandbox = sandbox
        self._server = await loop.create_server(api.protocol, sock=sandbox.runtime_api_socket)

    async def close(self) -> None:
        """Ends what `open()` made, as far as it got: the environment is dead, its sandbox destroyed."""
        sandbox = self.sandbox
        if sandbox is None:
            return  # never created
        if self.state is not EnvState.DEAD:
            self.move(EnvState.DEAD)
        self._closing = True  # from here on, kill() must not interrupt the teardown
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.api is not None:
            self.api.close()
        if self._server is not None:
            self._server.close()
        await sandbox.destroy()

    async def watch_exit(self) -> ExitStatus:
        """Blocks until the sandbox's process exits; records it for any invocation in flight."""
        assert self.sandbox is not None and self._exit is not None
        status = await self.sandbox.wait()
        if not self._exit.done():
            self._exit.set_result(status)
        return status

    async def start(self) -> None:
        """Starts the sandbox's process (the runtime); `watch_exit()` and `initialize()` may follow."""
        assert self.sandbox is not None
        self.move(EnvState.INITIALIZING)
        self._started = self.clock.monotonic()
        try:
            await self.sandbox.start()
        except ProcessNotStarted as exc:
            self._entrypoint_failed(exc.describe(), "init")

    def _entrypoint_failed(self, detail: str, phase: str) -> NoReturn:
        elapsed_ms = (self.clock.monotonic() - self._started) * 1000
        self.logs.platform(lines.init_report_line(elapsed_ms, phase, "error", RUNTIME_INVALID_ENTRYPOINT))
        raise InitFailed(InitFailure.ENTRYPOINT, detail, start=self._failed_start(elapsed_ms))

    async def initialize(self, limit_s: float, phase: str = "init") -> None:
        """Waits for the runtime's first /next. Raises InitFailed or InitTimedOut. `phase` names it in the
        INIT_REPORT line: "init", or "invoke" for an init Lambda retries within an invocation."""
        assert self.api is not None and self._exit is not None
        started = self._started
        api = self.api
        waiting: set[asyncio.Future[Any]] = {api.ready, api.init_failed, self._exit}
        done, _ = await asyncio.wait(waiting, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
        elapsed_ms = (self.clock.monotonic() - started) * 1000
        if api.init_failed.done():
            error = api.init_failed.result()
            if error.error_type == RUNTIME_INVALID_ENTRYPOINT:  # lambkin's own bootstrap found none to run
                self._entrypoint_failed(error_message(error), phase)
            self.logs.platform(lines.init_report_line(elapsed_ms, phase, "error", error.error_type))
            raise InitFailed(InitFailure.ERROR, "init error", error, start=self._failed_start(elapsed_ms))
        if self._exit.done():
            not_started = self._exit.result().not_started
            if not_started is not None:
                self._entrypoint_failed(not_started, phase)
            self.logs.platform(lines.init_report_line(elapsed_ms, phase, "error", "Runtime.ExitError"))
            describe = self._exit.result().describe()
            raise InitFailed(InitFailure.EXIT, describe, start=self._failed_start(elapsed_ms))
        if not done:
            self.logs.platform(lines.init_report_line(elapsed_ms, phase, "timeout", None))
            raise InitTimedOut(self._failed_start(elapsed_ms))
        self._init_ms = self.init_ms = elapsed_ms
        if phase == "invoke":  # a suppressed init: it and the invocation share the function's timeout
            self._owed_s = elapsed_ms / 1000
        assert self.sandbox is not None
        await self.sandbox.end_init()  # init ran with every host core; invocations get their share
        self.move(EnvState.IDLE)
        self.idle_since = self.clock.monotonic()

    def _failed_start(self, elapsed_ms: float) -> FailedStart:
        return FailedStart(self.logs, self.version, self.memory_mb, self._max_memory_mb(), elapsed_ms)

    def initialized_ahead(self) -> None:
        """Init ran ahead of demand (provisioned concurrency): no invocation reports its duration or output."""
        self._init_ms = None
        self.logs.end()

    async def invoke(self, invocation: Invocation, timeout_s: float) -> InvocationResult:
        """Hands one event to the runtime; the response, the sandbox's exit or the timeout wins.

        Raises EnvironmentLost if the sandbox ended before the runtime received the event.
        """
        api, exited = self.api, self._exit
        assert api is not None and exited is not None and self.state is EnvState.BUSY
        if exited.done():
            raise EnvironmentLost(self.id)
        started = self.clock.monotonic()
        budget_s, self._owed_s = timeout_s - self._owed_s, 0.0
        deadline_ms = int((self.clock.now() + budget_s) * 1000)
        event = Event(
            request_id=invocation.request_id,
            payload=invocation.payload,
            deadline_ms=deadline_ms,
            invoked_function_arn=invocation.invoked_function_arn,
            trace_id=invocation.trace_id,
            client_context=invocation.client_context,
            cognito_identity=invocation.cognito_identity,
        )
        outcome_future = api.submit(event)
        if self.poll is not None and self._recent_s is not None:
            self.poll.hold(outcome_future, self._recent_s)
        # START after the event is on its way (off the critical path): the loop reads the runtime's
        # output only after this returns, so START still comes first in the log.
        if invocation.tail:
            self.logs.begin()
        self.logs.platform(lines.start_line(invocation.request_id, self.version))

        # The runtime's answer wakes this task directly; the sandbox's exit (_interrupt) or the timeout
        # (its watchdog) settle the same future with None (no answer).
        loop = outcome_future.get_loop()  # (asyncio.get_running_loop() costs a getpid() on Python 3.11)
        self._outcome = outcome_future
        if self._watchdog is None:
            self._watchdog = Watchdog(loop, self._interrupt)
        self._watchdog.arm(loop.time() + budget_s)
        try:
            answer = await outcome_future
        except BaseException:
            self.kill()
            self.logs.end()
            raise
        finally:
            self._outcome = None
        elapsed = self.clock.monotonic() - started
        self._recent_s = elapsed if self._recent_s is None else 0.8 * self._recent_s + 0.2 * elapsed
        duration_ms = elapsed * 1000
        status: str | None = None
        outcome: Outcome
        if answer is not None:
            outcome = answer
            if not invocation.tail:
                # END and REPORT (and the output still in flight) are written once the caller has its answer.
                init_ms, self._init_ms = self._init_ms, None
                loop.call_soon(self._close_log, invocation.request_id, duration_ms, init_ms, None)
                return InvocationResult(outcome, b"", duration_ms, init_ms)
            await asyncio.sleep(0)  # let output the runtime wrote before answering reach the stream
        elif exited.done():
            if not api.delivered:
                self.logs.end()
                raise EnvironmentLost(self.id)
            outcome = exit_error(invocation.request_id, exited.result().describe())
            status = "error"
            self.logs.platform(lines.exit_line(invocation.request_id, exited.result().describe()))
        else:
            now = datetime.datetime.now(datetime.UTC)
            self.logs.platform(lines.timeout_line(now, invocation.request_id, timeout_s))
            outcome = timeout_error(invocation.request_id, timeout_s)
            duration_ms = timeout_s * 1000
            status = "timeout"
            self.kill()
        init_ms, self._init_ms = self._init_ms, None
        tail = self._close_log(invocation.request_id, duration_ms, init_ms, status)
        return InvocationResult(outcome, tail, duration_ms, init_ms)

    def _interrupt(self, _: object = None) -> None:
        """Ends the invocation in flight, if any, without an answer (the sandbox exited, or it timed out)."""
        outcome = self._outcome
        if outcome is not None and not outcome.done():
            outcome.set_result(None)

    def _close_log(
        self, request_id: str, duration_ms: float, init_ms: float | None, status: str | None
    ) -> bytes:
        """Writes END and REPORT, ends the invocation's capture and returns its tail."""
        report = lines.report_line(
            request_id, duration_ms, self.memory_mb, self._max_memory_mb(), init_ms, status
        )
        self.logs.platform(lines.end_line(request_id), report)
        return self.logs.end()

    def _max_memory_mb(self) -> int:
        """The cgroup's high-water mark, read at most every PEAK_REFRESH_S (it only ever grows)."""
        now = self.clock.monotonic()
        if self.sandbox is None or now - self._peak[0] < PEAK_REFRESH_S:
            return self._peak[1]
        with contextlib.suppress(Exception):  # the sandbox may be gone by the time REPORT is written
            self._peak = (now, max(self._peak[1], lines.megabytes(self.sandbox.max_memory_bytes())))
        return self._peak[1]

    @property
    def healthy(self) -> bool:
        return self.state is EnvState.BUSY and (self._exit is None or not self._exit.done())

    def kill(self) -> None:
        """Ends the environment now: its task's exit destroys the sandbox."""
        if self.state is not EnvState.DEAD:
            self.move(EnvState.DEAD)
        if self.task is not None and not self.task.done() and not self._closing:
            self.task.cancel()

    # (the lock taken and released by hand, not by `async with`: this class is compiled, and a compiled
    # coroutine must not suspend in an exception's handling, as an `async with`'s exit may; lambkin.compiled)
    async def freeze(self) -> bool:
        """Freezes an idle environment; False if it stopped being idle meanwhile."""
        await self._lock.acquire()
        try:
            if self.state is not EnvState.IDLE or self.sandbox is None:
                return False
            await self.sandbox.freeze()
            self.move(EnvState.FROZEN)
            return True
        finally:
            self._lock.release()

    async def acquire(self) -> None:
        """Thaws it if frozen, then marks it busy."""
        if self.state is EnvState.IDLE and not self._lock.locked():
            self.move(EnvState.BUSY)  # warm, and no freeze under way: nothing to wait for
            return
        await self._lock.acquire()
        try:
            if self.state is EnvState.FROZEN:
                assert self.sandbox is not None
                await self.sandbox.thaw()
                self.move(EnvState.IDLE)
            self.move(EnvState.BUSY)
        finally:
            self._lock.release()

    def release(self) -> None:
        self.move(EnvState.IDLE)
        self.idle_since = self.clock.monotonic()
