"""A harness that runs `lambkin server` as a subprocess, exactly as a user would, for integration tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx

ACCESS_KEY_ID = "LKIATESTKEY000000000"
SECRET_ACCESS_KEY = "test-secret-access-key-0000000000000000"
REGION = "us-east-1"
# What a server unpacks and stores of the images pushed to it: about 175 MB for the tests' images.
IMAGE_STORES = ("layers", "blobs")
# A start is a few seconds; on a machine others load it has taken 27 s: the deadline is for a stuck start.
START_TIMEOUT_S = 60.0


def eventually(
    check: Callable[[], Any], what: str = "the condition", limit: float = 120.0, every: float = 0.2
) -> Any:
    """Polls `check` until it returns something true, and returns that: a deadline for a stuck run, never a
    timing assertion (a machine others load has made a prompt step take tens of seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(every)
    raise AssertionError(f"never happened within {limit:.0f} s: {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LambkinServer:
    """One running `lambkin server` on a free port with its own data directory; with
    LAMBKIN_TEST_DATABASE=postgresql, its state in a fresh database of the tests' PostgreSQL (kept across
    restarts, as its data directory is)."""

    launched: ClassVar[list[LambkinServer]] = []  # every server the tests launched, for drop_image_stores

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_env = dict(env or {})
        self.extra_args = tuple(args)  # more of `lambkin server`'s options (e.g. --node-name)
        if (
            os.environ.get("LAMBKIN_TEST_DATABASE") == "postgresql"
            and "LAMBKIN_DATABASE_URL" not in self.extra_env
            and "--database" not in self.extra_args
        ):
            from tests import postgres  # imports this module: only when asked for

            self.extra_env["LAMBKIN_DATABASE_URL"] = postgres.shared().create_database()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            LAMBKIN_ACCESS_KEY_ID=ACCESS_KEY_ID,
            LAMBKIN_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            LAMBKIN_LOG_LEVEL="INFO",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = START_TIMEOUT_S) -> LambkinServer:
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Starts the process without waiting for it (`wait_ready` does), so several can start at once."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self not in LambkinServer.launched:
            LambkinServer.launched.append(self)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lambkin",
                    "server",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
            )

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> LambkinServer:
        """Waits until the launched server's /health answers 200 (it is ready)."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lambkin server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.endpoint}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        log = self.log()
        self.stop(clean_up_if_stuck=False)  # never left running, parentless, when its test gives up on it
        raise TimeoutError(f"lambkin server did not start:\n{log}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, kill: bool = False, clean_up_if_stuck: bool = True) -> None:
        """SIGTERM (a graceful stop that removes every sandbox) or, with `kill`, SIGKILL."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self.process = None
            if clean_up_if_stuck:  # its sandboxes are still there: a start removes what a previous run left
                print(f"lambkin server on {self.port} ignored SIGTERM for 60 s; restarting it to clean up")
                self.start()
                self.stop(clean_up_if_stuck=False)
        self.process = None

    @classmethod
    def drop_image_stores(cls) -> None:
        """Removes the image store (unpacked layers, blobs) of every launched server that is stopped now,
        keeping its log and database for a failure's reading. pytest keeps a module's data directories to the
        end of the run: a full run's 70-odd servers held 12 GB so (a CI run that most likely filled its disk
        failed at 23%)."""
        for server in [server for server in cls.launched if server.process is None]:
            for store in IMAGE_STORES:
                shutil.rmtree(server.data_dir / store, ignore_errors=True)
            cls.launched.remove(server)

    def restart(self, kill: bool = False) -> LambkinServer:
        self.stop(kill=kill)
        return self.start()

    def client(
        self,
        service: str,
        key: tuple[str, str] | None = None,
        token: str | None = None,
        region: str = REGION,
        **kwargs: Any,
    ) -> Any:
        """A boto3 client of this server for `region`, signed with `key` (and a session `token`), else the
        server's own."""
        import boto3

        key_id, secret = key or (ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            **kwargs,
        )
