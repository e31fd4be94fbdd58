"""Runs a Python probe to its end in a real runc sandbox of the python-handlers image."""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxSpec

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
