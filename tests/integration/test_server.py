"""The server starts, answers its health check, and keeps or generates its credentials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.harness import LambkinServer, free_port


def test_health(server: LambkinServer) -> None:
    response = httpx.get(f"{server.endpoint}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_generates_and_keeps_credentials(tmp_path: Path) -> None:
    env_free = LambkinServer(tmp_path / "data")
    env_free.extra_env = {"LAMBKIN_ACCESS_KEY_ID": "", "LAMBKIN_SECRET_ACCESS_KEY": ""}
    env_free.start()
    env_free.stop()
    printed = env_free.log()
    saved = json.loads((tmp_path / "data" / "credentials.json").read_text())
    assert f"LAMBKIN_ACCESS_KEY_ID={saved['access_key_id']}" in printed
    assert f"LAMBKIN_SECRET_ACCESS_KEY={saved['secret_access_key']}" in printed
    env_free.start()
    env_free.stop()
    assert json.loads((tmp_path / "data" / "credentials.json").read_text()) == saved
    assert env_free.log().count("LAMBKIN_ACCESS_KEY_ID=") == 1


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    first = LambkinServer(tmp_path / "a", port=port).start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "lambkin",
                "server",
                "--data-dir",
                str(tmp_path / "b"),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=first.environment(),
        )
        assert result.returncode != 0
    finally:
        first.stop()
