"""What one sandbox is asked to run, and the narrow interface every sandbox backend offers."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SandboxSpec:
    """One execution environment's container: root filesystem, process, limits.

    `lower_dirs` are unpacked image layers, top-most first (overlayfs `lowerdir` order); the root is a
    read-only overlay of them. `/tmp` is a disk file system of `tmp_size_mb` (Lambda's ephemeral storage). CPU is proportional to memory
    (1,769 MB = 1 vCPU, capped at the host's cores). With `init_cpu_boost` the process starts with all the
    host's cores, as Lambda boosts init, until `Sandbox.end_init()` applies the proportional quota.
    """

    id: str
    lower_dirs: tuple[Path, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    cwd: str = "/"
    uid: int = 993
    gid: int = 990
    memory_mb: int = 128
    tmp_size_mb: int = 512
    pids_limit: int = 1024
    nofile_limit: int = 1024
    runtime_api_port: int = 9001
    extra_ports: tuple[int, ...] = field(default=())
    init_cpu_boost: bool = False
    # A VPC function's security groups: its egress is what their rules allow; () is the default egress.
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExitStatus:
    """How the sandbox's init process ended: an exit code, or the signal that killed it."""

    code: int | None
    signal: int | None
    oom_killed: bool = False
    not_started: str | None = None  # the process could not be executed, in Lambda's words (fork/exec ...)

    def describe(self) -> str:
        """Lambda's wording for Runtime.ExitError, e.g. "signal: killed" or "exit status 1"."""
        if self.signal is not None:
            import signal as signals

            name = {
                signals.SIGKILL: "killed",
                signals.SIGSEGV: "segmentation fault",
                signals.SIGABRT: "aborted",
            }
            return (
                f"signal: {name.get(signals.Signals(self.signal), signals.Signals(self.signal).name.lower())}"
            )
        return f"exit status {self.code}"


OutputSink = Callable[[bytes], None]


class Sandbox(Protocol):
    """One running container. Created by a SandboxBackend; owned by exactly one execution environment."""

    @property
    def id(self) -> str: ...

    @property
    def runtime_api_socket(self) -> socket.socket:
        """A listening TCP socket bound to 127.0.0.1:<runtime_api_port> inside the sandbox's own network
        namespace, opened by lambkin (setns) before the runtime starts; serve it from lambkin's loop."""
        ...

    @property
    def listeners(self) -> dict[int, socket.socket]:
        """Every listening socket inside the sandbox by port: the Runtime API's and `extra_ports`'."""
        ...

    async def start(self) -> None:
        """Starts the container's process (the image's entrypoint); returns once it runs."""
        ...

    async def wait(self) -> ExitStatus:
        """Blocks until the container's init process exits."""
        ...

    async def end_init(self) -> None:
        """Init is over: apply the CPU quota proportional to memory (a no-op without `init_cpu_boost`)."""
        ...

    async def freeze(self) -> None: ...

    async def thaw(self) -> None: ...

    def max_memory_bytes(self) -> int:
        """Peak memory use of the sandbox's cgroup so far (for REPORT's Max Memory Used)."""
        ...

    async def destroy(self) -> None:
        """Kills every process, removes the container, its mounts, cgroup and network namespace."""
        ...


class SandboxBackend(Protocol):
    async def create(self, spec: SandboxSpec, stdout: OutputSink, stderr: OutputSink) -> Sandbox:
        """Prepares the container (root filesystem, cgroup, namespace, Runtime API socket) without starting it."""
        ...

    async def cleanup_leftovers(self) -> None:
        """Removes every sandbox, mount, cgroup and namespace left by a previous run of lambkin."""
        ...
