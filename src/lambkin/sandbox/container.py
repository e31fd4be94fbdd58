"""One runc container as a Sandbox: start, reap its init, freeze, thaw, destroy; an explicit state machine."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import socket
from collections.abc import Callable

from lambkin.sandbox import bundle, netns, oci
from lambkin.sandbox.bundle import Layout
from lambkin.sandbox.errors import SandboxError
from lambkin.sandbox.netns import NetworkNamespace
from lambkin.sandbox.output import ExecFailureWatch, PipeReader
from lambkin.sandbox.runc_cli import Runc
from lambkin.sandbox.spec import ExitStatus, OutputSink
from lambkin.sandbox.threads import in_own_thread

_FREEZE_ATTEMPTS = 500
_EXIT_AFTER_KILL_S = 10.0


class State(enum.Enum):
    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    FROZEN = "frozen"
    DESTROYED = "destroyed"


# What each state may become; everything else is refused. An exit is not a state: `wait()` reports it,
# and freezing or thawing a container that has exited is harmless.
_ALLOWED: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.STARTING, State.DESTROYED}),
    State.STARTING: frozenset({State.RUNNING, State.DESTROYED}),
    State.RUNNING: frozenset({State.FROZEN, State.DESTROYED}),
    State.FROZEN: frozenset({State.RUNNING, State.DESTROYED}),
    State.DESTROYED: frozenset(),
}


class InvalidSandboxTransition(SandboxError):
    """A sandbox was asked to do what its state does not allow (start twice, freeze before start, ...)."""


class RuncSandbox:
    """One container. Small on purpose: hundreds of idle ones live in lambkin's memory."""

    __slots__ = (
        "_api_port",
        "_destroyed",
        "_exec_watch",
        "_exit",
        "_layout",
        "_namespace",
        "_outputs",
        "_pidfd",
        "_release",
        "_runc",
        "_settled",
        "_sinks",
        "_state",
        "_steady",
        "id",
    )

    def __init__(
        self,
        layout: Layout,
        runc: Runc,
        sandbox_id: str,
        namespace: NetworkNamespace,
        api_port: int,
        stdout: OutputSink,
        stderr: OutputSink,
        steady: oci.CpuShare | None = None,
        settled: Callable[[], None] | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.id = sandbox_id
        self._release = release  # blocking: undoes what the backend set up for it outside (VPC egress)
        self._settled = settled  # called once, when init is over or the sandbox goes (its cold start is over)
        self._layout = layout
        self._runc = runc
        self._namespace = namespace
        self._api_port = api_port
        self._steady = steady  # the CPU share to apply at end_init(); None when init is not boosted
        self._sinks: tuple[OutputSink, OutputSink] | None = (stdout, stderr)
        self._outputs: tuple[PipeReader, ...] = ()
        self._exec_watch: ExecFailureWatch | None = None
        self._state = State.CREATED
        self._pidfd = -1
        self._exit: asyncio.Future[ExitStatus] | None = None
        self._destroyed: asyncio.Lock | bool = False

    @property
    def runtime_api_socket(self) -> socket.socket:
        return self._namespace.listeners[self._api_port]

    @property
    def listeners(self) -> dict[int, socket.socket]:
        """Every listening socket inside the sandbox, by port: the Runtime API's and the extra ports'."""
        return self._namespace.listeners

    async def connect(self, port: int) -> socket.socket:
        """A TCP connection to 127.0.0.1:`port` inside the sandbox (to a server its process runs), blocking
        mode; raises ConnectionRefusedError while nothing listens there."""
        fd = self._namespace.fd
        return await in_own_thread(lambda: netns.connect(fd, port), lambda sock: sock.close())

    @property
    def state(self) -> State:
        return self._state

    def _transition(self, target: State) -> None:
        if target not in _ALLOWED[self._state]:
            raise InvalidSandboxTransition(
                f"sandbox {self.id}: cannot go from {self._state.value} to {target.value}"
            )
        self._state = target

    async def start(self) -> None:
        self._transition(State.STARTING)
        loop = asyncio.get_running_loop()
        assert self._sinks is not None
        out_read, out_write = os.pipe2(os.O_CLOEXEC)
        err_read, err_write = os.pipe2(os.O_CLOEXEC)
        errors = self._sinks[1]
        if self._layout.init is not None:
            self._exec_watch = errors = ExecFailureWatch(errors)
        self._outputs = (
            PipeReader(loop, out_read, self._sinks[0]),
            PipeReader(loop, err_read, errors),
        )
        self._sinks = None
        try:
            pid = await self._runc.run(self.id, self._layout.bundle(self.id), out_write, err_write)
        finally:
            os.close(out_write)
            os.close(err_write)
        self._watch(pid)
        self._transition(State.RUNNING)

    def _watch(self, pid: int) -> None:
        """Reaps the container's init (our child: lambkin is a subreaper) as soon as its pidfd turns readable."""
        loop = asyncio.get_running_loop()
        self._exit = loop.create_future()
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._exit.set_result(ExitStatus(code=None, signal=signal.SIGKILL))
            return
        loop.add_reader(self._pidfd, self._reap)

    def _reap(self) -> None:
        try:
            info = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:  # exited, but not our child (never expected): its status is lost
            info = None
        else:
            if info is None or info.si_pid == 0:
                return  # spurious wake-up
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        oom = self._layout.cgroup(self.id).oom_kills() > 0
        if info is None:
            status = ExitStatus(code=None, signal=signal.SIGKILL, oom_killed=oom)
        elif info.si_code == os.CLD_EXITED and self._layout.init is not None and info.si_status > 128:
            # The init (tini) exits 128+N when the process it runs was killed by signal N.
            status = ExitStatus(code=None, signal=info.si_status - 128, oom_killed=oom)
        elif info.si_code == os.CLD_EXITED:
            status = ExitStatus(info.si_status, None, oom, self._not_started(info.si_status))
        else:
            status = ExitStatus(code=None, signal=info.si_status, oom_killed=oom)
        assert self._exit is not None
        if not self._exit.done():
            self._exit.set_result(status)

    def _not_started(self, code: int) -> str | None:
        """Why tini could not execute the process, when it exited as tini then does (127: not found, 126: not
        executable) after saying so on stderr."""
        watch = self._exec_watch
        if watch is None:
            return None
        if len(self._outputs) > 1:
            self._outputs[1].drain()  # the init is gone: what it wrote is in the pipe
        failure = watch.finish()
        return failure if code in (126, 127) else None

    def _adopt(self) -> None:
        try:
            pid = int((self._layout.bundle(self.id) / "pid").read_text())
        except (OSError, ValueError):
            return
        self._watch(pid)

    async def wait(self) -> ExitStatus:
        if self._exit is None:
            raise InvalidSandboxTransition(f"sandbox {self.id}: wait() before start()")
        return await asyncio.shield(self._exit)

    def _settle(self) -> None:
        settled, self._settled = self._settled, None
        if settled is not None:
            settled()

    async def end_init(self) -> None:
        self._settle()
        if self._steady is None or self._state is State.DESTROYED:
            return
        share, self._steady = self._steady, None
        cgroup = self._layout.cgroup(self.id)
        try:
            cgroup.set_cpu_quota(share.quota_us, oci.CPU_PERIOD_US)
            if share.cpus is not None:
                cgroup.set_cpus(share.cpus)
        except OSError as exc:
            raise SandboxError(f"sandbox {self.id}: setting the CPU share failed: {exc}") from exc

    async def freeze(self) -> None:
        if self._state is State.FROZEN:
            return
        self._transition(State.FROZEN)
        cgroup = self._layout.cgroup(self.id)
        try:
            for attempt in range(_FREEZE_ATTEMPTS):
                if attempt % 10 == 9:
                    # Stuck FREEZING (v1), e.g. a task mid-execve waiting for its frozen threads to die:
                    # thaw, let it run a moment, retry (runc's own freeze does the same).
                    cgroup.thaw()
                    await asyncio.sleep(0.001)
                cgroup.freeze()
                if cgroup.frozen():
                    return
                await asyncio.sleep(0.0002 * min(attempt + 1, 10))
            cgroup.thaw()
        except OSError as exc:
            self._state = State.RUNNING
            raise SandboxError(f"sandbox {self.id}: freezing failed") from exc
        self._state = State.RUNNING
        raise SandboxError(f"sandbox {self.id}: processes would not freeze")

    async def thaw(self) -> None:
        if self._state is State.RUNNING:
            return
        self._transition(State.RUNNING)
        try:
            self._layout.cgroup(self.id).thaw()
        except OSError as exc:
            raise SandboxError(f"sandbox {self.id}: thawing failed") from exc

    def max_memory_bytes(self) -> int:
        return self._layout.cgroup(self.id).max_memory_bytes()

    async def destroy(self) -> None:
        """Idempotent; concurrent calls wait for the first; after a failure the next call tries again."""
        if self._destroyed is True:
            return
        if self._destroyed is False:
            self._destroyed = asyncio.Lock()  # made only now: idle sandboxes stay small
        async with self._destroyed:
            if self._state is not State.DESTROYED or self._outputs or self._namespace.fd >= 0:
                await self._teardown()
        self._destroyed = True

    def _remove(self, layout: Layout) -> None:
        """Blocking: the bundle, and what was set up outside for the sandbox, while its namespace still exists."""
        bundle.remove(layout, self.id)
        release, self._release = self._release, None
        if release is not None:
            release()

    async def _teardown(self) -> None:
        self._settle()
        started = self._state is not State.CREATED
        self._state = State.DESTROYED
        if started:
            if self._exit is None:  # start() failed or was cancelled: runc may still have started it
                self._adopt()
            with contextlib.suppress(OSError):
                self._layout.cgroup(self.id).thaw()  # runc hangs on a container stuck FREEZING
            await self._runc.delete(self.id)
            if self._exit is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(self._exit), _EXIT_AFTER_KILL_S)
                except TimeoutError as exc:
                    raise SandboxError(f"sandbox {self.id}: init still alive after runc delete") from exc
        for output in self._outputs:
            output.drain()
            output.close()
        self._outputs = ()
        if self._exec_watch is not None:
            self._exec_watch.finish()
        if self._pidfd >= 0:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        namespace = self._namespace
        layout = self._layout
        await asyncio.to_thread(self._remove, layout)
        namespace.close()
