"""A sandbox has its own cgroup namespace: /proc/self/cgroup shows none of the host's cgroup paths."""

from __future__ import annotations

from pathlib import Path

from lambkin.sandbox.runc import RuncBackend
from tests.security.sandboxes import needs_runc, run_python

pytestmark = needs_runc


async def test_proc_self_cgroup_shows_only_the_namespace_root(
    backend: RuncBackend, python_root: Path
) -> None:
    outcome = await run_python(backend, python_root, "print(open('/proc/self/cgroup').read(), end='')")
    assert outcome.code == 0, outcome.stderr
    lines = outcome.stdout.splitlines()
    assert lines
    assert {line.split(":", 2)[2] for line in lines} == {"/"}, outcome.stdout
