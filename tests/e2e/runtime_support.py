"""Managed runtimes for the end-to-end tests: `lambkin runtimes build` into a test server's data directory,
from the build cache the whole test run (and every worktree sharing .cache) keeps.

A runtime's first build takes minutes (debootstrap from the mirror, then the client); afterwards its
oci-archive is in CACHE, keyed by its recipe, and a build is an import of well under a second. Tests that
build runtimes give their module RUNTIME_BUILDS_TIMEOUT_S, enough for a first build of each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.harness import LambkinServer

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LAMBKIN_RUNTIMES_CACHE", REPO / ".cache" / "runtimes"))
RUNTIME_BUILDS_TIMEOUT_S = 3600  # up to ~9 minutes per runtime's first build on a loaded 2-core machine


def lambkin(server: LambkinServer, *args: str) -> str:
    """Runs `lambkin ARGS --data-dir` on the server's data directory, as its operator would; its stdout."""
    command = [sys.executable, "-m", "lambkin", *args, "--data-dir", str(server.data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=server.environment(), check=False)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def build_runtime(server: LambkinServer, name: str) -> str:
    """Builds the runtime into the server's data directory (from CACHE when its recipe is there); returns
    its image's digest there, as `lambkin runtimes list` shows it."""
    out = lambkin(server, "runtimes", "build", name, "--cache-dir", str(CACHE))
    listed = {row["runtime"]: row for row in json.loads(lambkin(server, "runtimes", "list", "--json"))}
    assert listed[name]["built"] is True
    assert out.startswith(f"{name} {listed[name]['digest']} ")
    return str(listed[name]["digest"])
