"""Runs a Python probe to its end in a real runc sandbox of the python-handlers image."""

from __future__ import annotations

import asyncio
import os
import shutil
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import Sandbox, SandboxBackend, SandboxSpec

needs_runc = [
    pytest.mark.runc,
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runc") is None, reason="needs root and runc"),
]


@dataclass(frozen=True)
class Outcome:
    code: int | None
    stdout: str
    stderr: str


async def run_python(backend: RuncBackend, root: Path, source: str, **limits: Any) -> Outcome:
    """Runs `source` with the image's python3 as the sandbox's process; returns its exit code and output."""
    out: list[bytes] = []
    err: list[bytes] = []
    spec = SandboxSpec(
        id="probe",
        lower_dirs=(root,),
        args=("/usr/bin/python3", "-c", textwrap.dedent(source)),
        env=(("PATH", "/usr/bin:/bin"),),
        **limits,
    )
    sandbox = await backend.create(spec, out.append, err.append)
    try:
        await sandbox.start()
        status = await sandbox.wait()
    finally:
        await sandbox.destroy()
    return Outcome(status.code, b"".join(out).decode(), b"".join(err).decode())


@dataclass
class Running:
    """A probe still running: its sandbox and what it printed so far."""

    sandbox: Sandbox
    stdout: list[bytes] = field(default_factory=list)
    stderr: list[bytes] = field(default_factory=list)

    async def first_line(self, timeout_s: float = 120.0) -> str:
        """The first line the probe prints (it goes on running)."""
        for _ in range(int(timeout_s * 10)):
            printed = b"".join(self.stdout)
            if b"\n" in printed:
                return printed.split(b"\n")[0].decode()
            await asyncio.sleep(0.1)
        raise AssertionError(f"the probe printed no line: {b''.join(self.stderr).decode()}")


@asynccontextmanager
async def running_python(
    backend: SandboxBackend, root: Path, source: str, sandbox_id: str = "probe", **limits: Any
) -> AsyncIterator[Running]:
    """Starts `source` with the image's python3 in a sandbox of `backend`; destroys it on leaving."""
    spec = SandboxSpec(
        id=sandbox_id,
        lower_dirs=(root,),
        args=("/usr/bin/python3", "-c", textwrap.dedent(source)),
        env=(("PATH", "/usr/bin:/bin"),),
        **limits,
    )
    running: Running | None = None
    out: list[bytes] = []
    err: list[bytes] = []
    sandbox = await backend.create(spec, out.append, err.append)
    try:
        running = Running(sandbox, out, err)
        await sandbox.start()
        yield running
    finally:
        await sandbox.destroy()
