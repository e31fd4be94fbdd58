"""`lambkin server` refuses a database it cannot use with one clear line: a wrong password, nothing listening,
or a schema newer than the code (on either backend)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg

from tests import postgres
from tests.harness import LambkinServer, free_port


def start(
    data_dir: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`lambkin server` expected to stop by itself; what it printed, and how it exited."""
    command = [
        sys.executable,
        "-m",
        "lambkin",
        "server",
        "--data-dir",
        str(data_dir),
        "--port",
        str(free_port()),
    ]
    return subprocess.run(
        [*command, *options], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_a_wrong_password_stops_the_server_with_one_line(tmp_path: Path) -> None:
    server = postgres.shared()
    ended = start(tmp_path / "data", "--database", server.tcp_url(password="wrong-password"))
    assert ended.returncode == 1
    assert ended.stderr.count("\n") == 1
    assert ended.stderr.startswith(
        f"lambkin: Cannot use the database postgres@127.0.0.1:{server.port}/postgres: "
    )
    assert "password authentication failed" in ended.stderr
    assert "wrong-password" not in ended.stderr + ended.stdout


def test_a_database_nobody_listens_for_stops_the_server_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    ended = start(tmp_path / "data", "--database", f"postgresql://lambkin:pw@127.0.0.1:{port}/lambkin")
    assert ended.returncode == 1
    assert ended.stderr.count("\n") == 1
    assert ended.stderr.startswith(f"lambkin: Cannot use the database lambkin@127.0.0.1:{port}/lambkin: ")
    assert "refused" in ended.stderr


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    server = LambkinServer(tmp_path / "data")
    server.start()
    server.stop()
    url = server.extra_env.get("LAMBKIN_DATABASE_URL")
    future = "INSERT INTO schema_migrations (namespace, version) VALUES ('functions', 999)"
    if url is None:
        with sqlite3.connect(server.data_dir / "lambkin.db") as conn:
            conn.execute(future)
    else:
        with psycopg.connect(url) as conn:
            conn.execute(future)
    ended = start(server.data_dir, env=server.environment())
    assert ended.returncode == 1
    assert ended.stderr == (
        "lambkin: The database's schema is newer than this lambkin: it has step 999 of 'functions', this "
        "version knows steps up to 1. Run the newer lambkin, or restore a backup made for this one.\n"
    )
