"""FakeSandboxBackend, an in-memory SandboxBackend for unit tests above `sandbox/`; a busybox test layer.

Each fake sandbox listens on a real loopback socket (an ephemeral port on the host), so code that serves
`runtime_api_socket` can be driven by a test acting as the runtime: connect to `sandbox.address`. The test
plays the container too: `emit_stdout()`, `exit()`, and it can read what was asked (`started`, `frozen`,
`destroyed`, `spec`).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from lambkin.sandbox.errors import SandboxError
from lambkin.sandbox.spec import ExitStatus, OutputSink, SandboxSpec


class FakeSandbox:
    """One pretend container; its process "runs" from `start()` until the test calls `exit()` or it is destroyed."""

    def __init__(self, spec: SandboxSpec, stdout: OutputSink, stderr: OutputSink) -> None:
        self.spec = spec
        self.stdout = stdout
        self.stderr = stderr
        self.listeners = {port: _listen() for port in (spec.runtime_api_port, *spec.extra_ports)}
        self.started = False
        self.frozen = False
        self.destroyed = False
        self.freezes = 0
        self.init_ended = False
        self.memory_bytes = 16 * 1024 * 1024
        self.on_start: Callable[[FakeSandbox], None] | None = None
        self._exit: asyncio.Future[ExitStatus] | None = None
        self._destroyed = asyncio.Event()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def runtime_api_socket(self) -> socket.socket:
        return self.listeners[self.spec.runtime_api_port]

    @property
    def address(self) -> str:
        """`host:port` where the fake's Runtime API socket listens (what AWS_LAMBDA_RUNTIME_API would be)."""
        host, port = self.runtime_api_socket.getsockname()
        return f"{host}:{port}"

    @property
    def running(self) -> bool:
        return self.started and self._exit is not None and not self._exit.done()

    async def start(self) -> None:
        if self.started or self.destroyed:
            raise SandboxError(f"fake sandbox {self.id}: cannot start now")
        self.started = True
        self._exit = asyncio.get_running_loop().create_future()
        if self.on_start is not None:
            self.on_start(self)

    async def wait(self) -> ExitStatus:
        if self._exit is None:
            raise SandboxError(f"fake sandbox {self.id}: wait() before start()")
        return await asyncio.shield(self._exit)

    async def end_init(self) -> None:
        self.init_ended = True

    async def freeze(self) -> None:
        self.frozen = True
        self.freezes += 1

    async def thaw(self) -> None:
        self.frozen = False

    def max_memory_bytes(self) -> int:
        return self.memory_bytes

    async def destroy(self) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        self.exit(ExitStatus(code=None, signal=9))
        for listener in self.listeners.values():
            listener.close()
        self._destroyed.set()

    async def wait_destroyed(self, deadline_s: float = 10.0) -> None:
        """Returns once the sandbox is destroyed (a deadline, so a broken test fails instead of hanging)."""
        async with asyncio.timeout(deadline_s):
            await self._destroyed.wait()

    # What the test does as the container.

    def emit_stdout(self, data: bytes) -> None:
        self.stdout(data)

    def emit_stderr(self, data: bytes) -> None:
        self.stderr(data)

    def exit(self, status: ExitStatus | None = None) -> None:
        """Ends the pretend process (exit code 0 unless told otherwise); `wait()` returns `status`."""
        if self._exit is not None and not self._exit.done():
            self._exit.set_result(status or ExitStatus(code=0, signal=None))


class FakeSandboxBackend:
    """Hands out FakeSandboxes and remembers them; `fail_next_create` makes the next create() raise."""

    def __init__(self) -> None:
        self.sandboxes: list[FakeSandbox] = []
        self.fail_next_create: Exception | None = None
        self.on_start: Callable[[FakeSandbox], None] | None = None
        self.cleaned_up = 0

    async def create(self, spec: SandboxSpec, stdout: OutputSink, stderr: OutputSink) -> FakeSandbox:
        if self.fail_next_create is not None:
            error, self.fail_next_create = self.fail_next_create, None
            raise error
        if any(s.id == spec.id and not s.destroyed for s in self.sandboxes):
            raise SandboxError(f"fake sandbox {spec.id} exists")
        sandbox = FakeSandbox(spec, stdout, stderr)
        sandbox.on_start = self.on_start
        self.sandboxes.append(sandbox)
        return sandbox

    async def cleanup_leftovers(self) -> None:
        self.cleaned_up += 1

    @property
    def live(self) -> list[FakeSandbox]:
        return [s for s in self.sandboxes if not s.destroyed]


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def busybox_layer(path: Path, busybox: str = "/bin/busybox") -> Path:
    """A tiny image layer for real-sandbox tests and benches: a static busybox with its applets in /bin."""
    if (path / "bin" / "sh").exists():
        return path
    (path / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, path / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and not (path / "bin" / applet).exists():
            (path / "bin" / applet).symlink_to("busybox")
    return path
