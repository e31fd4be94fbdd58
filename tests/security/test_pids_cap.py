"""The processes of all sandboxes together are bounded (their parent cgroup's pids.max), so the host keeps its pid space."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lambkin.sandbox.runc import RuncBackend
from tests.security.sandboxes import needs_runc, running_python

pytestmark = needs_runc

CAP = 48
FORKS = 40  # each sandbox alone may hold this many (its own pids limit is far above)

# Forks up to FORKS children that sleep; prints how many it got and holds them.
FORKER = f"""
import os, time
children = 0
for _ in range({FORKS}):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
print(children, flush=True)
time.sleep(600)
"""


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[RuncBackend]:
    backend = RuncBackend(tmp_path / "data", pids_max=CAP)
    yield backend
    await backend.cleanup_leftovers()


async def test_sandboxes_forking_together_stay_within_the_cap(capped: RuncBackend, python_root: Path) -> None:
    async with running_python(capped, python_root, FORKER, "first") as first:
        held = int(await first.first_line())
        assert held == FORKS  # alone, within the cap
        async with running_python(capped, python_root, FORKER, "second") as second:
            more = int(await second.first_line())
            # two processes of each sandbox are its init and python: all of them within the cap
            assert held + more + 4 <= CAP
            assert more < FORKS
            outside = await asyncio.create_subprocess_exec("true")  # the host still forks
            assert await outside.wait() == 0
