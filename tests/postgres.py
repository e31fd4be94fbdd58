"""A real PostgreSQL for tests: Debian's binaries, its own initdb in a temporary directory, its own socket and port.

Never a system service: the cluster lives in a temporary directory, listens on a unix socket there and on
127.0.0.1 at a free port, and is removed when stopped for good. As root, it runs as the `postgres` user
(PostgreSQL refuses root); otherwise as the current user. The socket is trusted; TCP on 127.0.0.1 asks for
the superuser's password (PASSWORD), so a test can present a wrong one.

`shared()` is one cluster for the whole test process, started on first use (each lambkin server gets a fresh
database of it: `create_database()`); a test that stops or restarts PostgreSQL starts its own
`PostgresServer` instead, so no other test sees the outage.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from tests.harness import free_port


def _binaries() -> Path:
    """$LAMBKIN_TEST_PG_BIN, else the newest of Debian's /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("LAMBKIN_TEST_PG_BIN"):
        return Path(os.environ["LAMBKIN_TEST_PG_BIN"])
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    versions = sorted(found, key=lambda p: int(p.parent.name), reverse=True)
    return versions[0] if versions else Path("/usr/lib/postgresql/15/bin")


BIN = _binaries()
USER = "postgres"
PASSWORD = "lambkin-test-password"


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", USER, "--", *command]
    return command


class PostgresServer:
    """One PostgreSQL cluster of a test: `start()`, `create_database()`, `stop()`/`start()` again, `remove()`."""

    _names = itertools.count(1)

    def __init__(self, fsync: bool = False) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL is not installed at {BIN}: run `make setup` (Debian's postgresql)"
            )
        self.root = Path(tempfile.mkdtemp(prefix="lambkin-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.socket_dir.mkdir()
        self.port = free_port()
        self.fsync = fsync  # off by default: the tests kill lambkin, never the machine
        if os.geteuid() == 0:
            shutil.chown(self.root, USER)
            shutil.chown(self.socket_dir, USER)
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(password_file, USER)
        self._watch()
        self._run(
            [
                str(BIN / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                USER,
                "--pwfile",
                str(password_file),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        password_file.unlink()
        self.running = False

    def _watch(self) -> None:
        """If this test process dies without removing the cluster (killed, timed out), a watcher outside its
        process group stops the cluster and removes its directory, so no postgres is left running."""
        pid_file = self.data / "postmaster.pid"
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
            f'if [ -f "{pid_file}" ]; then kill -QUIT "$(head -1 "{pid_file}")" 2>/dev/null; sleep 1; fi; '
            f'rm -rf "{self.root}"'
        )
        self._watcher = subprocess.Popen(
            ["sh", "-c", script],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(_as_owner(command), capture_output=True, text=True, cwd=self.root, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresServer:
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses=127.0.0.1"
            f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
        )
        self._run(
            [
                str(BIN / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "log"),
                "-o",
                options,
            ]
        )
        self.running = True
        return self

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected (AdminShutdown), committed work is kept."""
        if self.running:
            self._run([str(BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data)])
            self.running = False

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        self._watcher.kill()
        self._watcher.wait()

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` over the unix socket, as the superuser."""
        return f"postgresql://{USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """The URL of `database` over TCP on 127.0.0.1, with a password."""
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "lambkin") -> str:
        """A fresh, empty database; its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self._run(
            [
                str(BIN / "psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                f'CREATE DATABASE "{name}"',
            ]
        )
        return self.url(name)

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""


_shared: PostgresServer | None = None
_shared_lock = threading.Lock()


def shared() -> PostgresServer:
    """The test process's own cluster, started on first use and removed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PostgresServer().start()
            atexit.register(_shared.remove)
        return _shared
