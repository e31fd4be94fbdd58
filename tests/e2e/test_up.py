"""`lambkin up` (what `make run` starts): the demos are deployed, an image and a .zip package on the
python3.11 runtime, and the commands it prints work as printed."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.runtime_support import CACHE, RUNTIME_BUILDS_TIMEOUT_S
from tests.harness import free_port
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

ROOT = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBKIN_", "AWS_"))}


@contextmanager
def lambkin_up(tmp_path: Path, *args: str, until: str, limit_s: float = 120) -> Iterator[str]:
    """Runs `lambkin up ARGS` until it has printed `until`; yields what it printed by then."""
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "lambkin", "up", "--data-dir", str(tmp_path / "data"),
             "--port", str(free_port()), *args],
            stdout=out, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + limit_s
        while until not in log.read_text() and time.monotonic() < deadline:
            assert up.poll() is None, log.read_text()
            time.sleep(0.2)
        yield log.read_text()
    finally:
        up.terminate()
        up.wait(60)


def try_it(printed: str, heading: str) -> tuple[dict[str, str], list[list[str]]]:
    """The environment and the commands of the block under `heading`, as a user would paste them."""
    hint = printed.split(heading, 1)[1].splitlines()[1:]
    exports = dict(pair.split("=", 1) for pair in shlex.split(hint[0].strip())[1:])
    commands = [shlex.split(line.strip()) for line in hint[1:4] if line.strip().startswith(".venv/")]
    return exports, commands


def run_printed(command: list[str], exports: dict[str, str]) -> str:
    done = subprocess.run(command, env={**ENV, **exports}, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_up_deploys_the_demo_and_its_printed_commands_work(tmp_path: Path, test_images: BuiltImages) -> None:
    demo = str(test_images.path("python-echo"))
    with lambkin_up(tmp_path, "--demo-image", demo, "--no-zip-demo", until="lambkin logs demo") as printed:
        assert 'function \'demo\' answered: {"hello": "lambkin"}' in printed, printed
        exports, (invoke, logs) = try_it(printed, "Try it:")
        assert run_printed(invoke, exports).startswith('{"hello": "world"}')
        assert "REPORT RequestId:" in run_printed(logs, exports)
    assert "demo-zip" not in printed


@pytest.mark.timeout(RUNTIME_BUILDS_TIMEOUT_S)
def test_up_deploys_the_zip_demo_on_python311_and_its_printed_commands_work(tmp_path: Path) -> None:
    """Without a demo image, the zip demo alone; its runtime from the test run's build cache (built there
    first, with the progress `lambkin up` prints, when the cache does not have it)."""
    with lambkin_up(
        tmp_path,
        "--demo-image", str(tmp_path / "none.tar"),
        "--runtimes-cache", str(CACHE),
        until="lambkin logs demo-zip",
        limit_s=RUNTIME_BUILDS_TIMEOUT_S - 120,
    ) as printed:  # fmt: skip
        assert "the python3.11 runtime is ready" in printed, printed
        answered = '\'demo-zip\' (python3.11, .zip) answered: {"event": {"hello": "lambkin"}, "runtime": "AWS_Lambda_python3.11"}'
        assert answered in printed, printed
        exports, (invoke, logs) = try_it(printed, "Try the zip demo (python3.11, handler app.handler):")
        assert run_printed(invoke, exports).startswith(
            '{"event": {"hello": "zip"}, "runtime": "AWS_Lambda_python3.11"}'
        )
        assert "REPORT RequestId:" in run_printed(logs, exports)
