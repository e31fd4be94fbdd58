"""`lambkin up` (what `make run` starts): the demo is deployed, and the commands it prints work as printed."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import free_port
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

ROOT = Path(__file__).resolve().parents[2]


def test_up_deploys_the_demo_and_its_printed_commands_work(tmp_path: Path, test_images: BuiltImages) -> None:
    port = free_port()
    log = tmp_path / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBKIN_", "AWS_"))}
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "lambkin", "up", "--data-dir", str(tmp_path / "data"), "--port", str(port),
             "--demo-image", str(test_images.path("python-echo"))],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "lambkin logs demo" not in log.read_text() and time.monotonic() < deadline:
            assert up.poll() is None, log.read_text()
            time.sleep(0.2)
        printed = log.read_text()
        assert 'function \'demo\' answered: {"hello": "lambkin"}' in printed, printed
        hint = printed.split("Try it:\n", 1)[1].splitlines()
        exports = dict(pair.split("=", 1) for pair in shlex.split(hint[0].strip())[1:])
        invoke = shlex.split(hint[1].strip())
        answered = subprocess.run(invoke, env={**env, **exports}, cwd=ROOT, capture_output=True, text=True)
        assert answered.returncode == 0, answered.stderr
        assert answered.stdout.startswith('{"hello": "world"}'), answered.stdout
        logs_command = shlex.split(next(line for line in hint if "lambkin logs" in line).strip())
        logs = subprocess.run(logs_command, env={**env, **exports}, cwd=ROOT, capture_output=True, text=True)
        assert logs.returncode == 0, logs.stderr
        assert "REPORT RequestId:" in logs.stdout
    finally:
        up.terminate()
        up.wait(60)
