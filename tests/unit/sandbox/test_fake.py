"""FakeSandboxBackend behaves like the protocol says: sockets that listen, start/wait/exit, destroy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lambkin.sandbox.errors import SandboxError
from lambkin.sandbox.spec import ExitStatus, SandboxBackend, SandboxSpec
from lambkin.testing.sandbox import FakeSandboxBackend


def spec(name: str = "s") -> SandboxSpec:
    return SandboxSpec(id=name, lower_dirs=(Path("/l"),), args=("/x",), env=(), extra_ports=(9002,))


async def test_fake_sandbox_lifecycle() -> None:
    backend: SandboxBackend = FakeSandboxBackend()
    out: list[bytes] = []
    sandbox = await backend.create(spec(), out.append, out.append)
    assert set(sandbox.listeners) == {9001, 9002}
    host, port = sandbox.runtime_api_socket.getsockname()
    _, writer = await asyncio.open_connection(host, port)  # listens for real
    writer.close()
    await sandbox.start()
    sandbox.emit_stdout(b"hello\n")  # type: ignore[attr-defined]
    assert out == [b"hello\n"]
    sandbox.exit(ExitStatus(code=2, signal=None))  # type: ignore[attr-defined]
    assert await sandbox.wait() == ExitStatus(code=2, signal=None)
    await sandbox.destroy()
    await sandbox.destroy()
    assert sandbox.runtime_api_socket.fileno() == -1


async def test_destroy_ends_a_running_fake_with_sigkill_and_failures_can_be_injected() -> None:
    backend = FakeSandboxBackend()
    sandbox = await backend.create(spec(), lambda _: None, lambda _: None)
    await sandbox.start()
    await sandbox.freeze()
    assert sandbox.frozen
    await sandbox.destroy()
    assert (await sandbox.wait()).signal == 9
    backend.fail_next_create = SandboxError("boom")
    with pytest.raises(SandboxError):
        await backend.create(spec("t"), lambda _: None, lambda _: None)
    assert backend.live == []
