"""The AWS CLI as the tests run it: one subprocess against a server, signed with a given key, no user config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

AWS = str(Path(sys.executable).with_name("aws"))
SERVER_KEY = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)


def cli_environment(key: tuple[str, str] = SERVER_KEY, token: str | None = None) -> dict[str, str]:
    """The process environment for the CLI: `key` (and a session `token`), the tests' region, no config files."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key[0],
        "AWS_SECRET_ACCESS_KEY": key[1],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    env.pop("AWS_SESSION_TOKEN", None)
    if token:
        env["AWS_SESSION_TOKEN"] = token
    return env


def run_aws(
    server: LambkinServer,
    *args: str,
    key: tuple[str, str] = SERVER_KEY,
    token: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`aws ARGS --endpoint-url SERVER --output json`, whatever its outcome."""
    return subprocess.run(
        [AWS, *args, "--endpoint-url", server.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=cli_environment(key, token),
        timeout=timeout,
        check=False,
    )


def parsed(done: subprocess.CompletedProcess[str]) -> Any:
    """The output of a command that must have succeeded: its JSON, or None when it printed nothing."""
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def aws(
    server: LambkinServer, *args: str, key: tuple[str, str] = SERVER_KEY, token: str | None = None
) -> Any:
    """Runs the CLI, asserts it succeeded, and returns its JSON output (None when it printed nothing)."""
    return parsed(run_aws(server, *args, key=key, token=token))
