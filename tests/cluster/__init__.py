"""A lambkin cluster for tests: its own PostgreSQL, nodes on it, and HAProxy (Debian's) in front.

`Cluster(root).start()` starts a PostgreSQL of its own (tests/postgres.py; never the shared one, so a cluster
test sees no other test's state), three `lambkin server` nodes with `--database URL --node-name N
--advertise http://127.0.0.1:PORT`, each with its own data directory and port, and HAProxy with a config
written here: round robin over the nodes, each health-checked on /health (a node is sent requests only
while it answers 200), a failed connection tried again on another node. Clients talk to HAProxy
(`cluster.client("lambda")`), or to one node (`cluster.nodes["node-1"].client(...)`); `kill(name)` is
`kill -9` of one node, `restart(name)` starts it again on the same data directory and port.

The end-to-end tests of issue 16 are the test_*.py files beside this one (`make test-cluster`).
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer, free_port
from tests.postgres import PostgresServer

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NODES = ("node-1", "node-2", "node-3")
T = TypeVar("T")


def haproxy_config(port: int, nodes: Mapping[str, str], stats_socket: Path, check_ms: int = 200) -> str:
    """HAProxy's config for `nodes` (name -> host:port) behind 127.0.0.1:`port`.

    A node is checked on GET /health every `check_ms`: two failed checks take it out of the rotation (a
    starting or draining node answers 503), one good one puts it back. A request whose connection to a node
    failed is sent to another (`retries`, `redispatch`); one a node received and never answered (it died)
    is answered 502 and left to the client to retry, as a sync invoke must not run twice behind its back.
    """
    servers = "\n".join(f"    server {name} {address} check" for name, address in nodes.items())
    return f"""\
global
    maxconn 4096
    stats socket {stats_socket} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 15m
    timeout server 15m
    timeout http-keep-alive 75s
    retries 3
    option redispatch 1
    retry-on conn-failure

frontend lambkin
    bind 127.0.0.1:{port}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
    default-server inter {check_ms}ms fall 2 rise 1
{servers}
"""


class HAProxy:
    """HAProxy in the foreground (`-db`) with the config above, written to `root`."""

    def __init__(self, root: Path, nodes: Mapping[str, str], port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.config = root / "haproxy.cfg"
        self.stats_socket = root / "haproxy.sock"
        self.config.write_text(haproxy_config(self.port, nodes, self.stats_socket))
        self.log_path = root / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check(self) -> None:
        """`haproxy -c`: the config is valid (raises with HAProxy's words otherwise)."""
        done = subprocess.run([HAPROXY, "-c", "-f", str(self.config)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"haproxy -c failed:\n{done.stdout}{done.stderr}")

    def start(self, timeout: float = 10.0) -> HAProxy:
        self.check()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(lambda: self.stats_socket.exists() and _accepts(self.port), timeout, self.log)
        return self

    def servers(self) -> dict[str, str]:
        """Each node's status as HAProxy sees it: "UP", "DOWN", "UP 1/2" (going down), ... (`show stat`)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            data = b"".join(iter(lambda: sock.recv(65536), b""))
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == "nodes" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def up(self) -> set[str]:
        return {name for name, status in self.servers().items() if status == "UP"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Cluster:
    """PostgreSQL, `names` lambkin nodes on one database of it, and HAProxy in front of them."""

    def __init__(
        self, root: Path, names: tuple[str, ...] = NODES, env: Mapping[str, str] | None = None
    ) -> None:
        self.root = root
        self.postgres = PostgresServer()
        self.database = ""
        self.env = dict(env or {})
        self.nodes: dict[str, LambkinServer] = {}
        for name in names:
            port = free_port()
            self.nodes[name] = LambkinServer(root / name / "data", port=port, env=self.env)
        self.haproxy = HAProxy(root, {name: node.registry for name, node in self.nodes.items()})

    @property
    def endpoint(self) -> str:
        """Where clients go: HAProxy."""
        return self.haproxy.endpoint

    def start(self, timeout: float = 60.0) -> Cluster:
        self.postgres.start()
        self.database = self.postgres.create_database("cluster")
        for name, node in self.nodes.items():
            node.extra_args = self._arguments(name, node)
        for node in self.nodes.values():  # together: the first migrates, the others wait for its lock
            node.launch()
        for node in self.nodes.values():
            node.wait_ready(timeout)
        self.haproxy.start()
        self.wait_balanced(set(self.nodes), timeout)
        return self

    def _arguments(self, name: str, node: LambkinServer) -> tuple[str, ...]:
        return ("--database", self.database, "--node-name", name, "--advertise", node.endpoint)

    def wait_balanced(self, names: set[str], timeout: float = 30.0) -> None:
        """Waits until HAProxy sends requests to exactly the nodes `names` (its checks saw them ready)."""
        wait_until(lambda: self.haproxy.up() == names, timeout, lambda: str(self.haproxy.servers()))

    def kill(self, name: str) -> None:
        """`kill -9` of one node (its sandboxes stay until it starts again and removes them)."""
        self.nodes[name].stop(kill=True)

    def restart(self, name: str, timeout: float = 60.0) -> LambkinServer:
        """Starts a stopped or killed node again (same data directory, port and name)."""
        node = self.nodes[name]
        if node.process is not None:
            node.stop()
        return node.start(timeout)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client of the cluster, through HAProxy, signed with the nodes' key."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            **kwargs,
        )

    def query(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of one SQL statement on the cluster's database (what the nodes wrote there)."""
        import psycopg

        with psycopg.connect(self.database, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def logs(self) -> str:
        """Every node's log and HAProxy's, for a failing test's report."""
        parts = [f"--- {name}\n{node.log()}" for name, node in self.nodes.items()]
        return "\n".join([*parts, f"--- haproxy\n{self.haproxy.log()}"])

    def stop(self) -> None:
        """Stops HAProxy, every node (SIGTERM: they drain and remove their sandboxes) and PostgreSQL."""
        self.haproxy.stop()
        for node in self.nodes.values():
            if node.process is not None:
                node.process.terminate()
        for node in self.nodes.values():
            node.stop()
        self.postgres.remove()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(condition: Callable[[], T], timeout: float, explain: Callable[[], str] = lambda: "") -> T:
    """Polls `condition` until it returns something true (returned), or raises TimeoutError after `timeout`
    seconds with `explain()` (what a failing test should show)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except OSError:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s\n{explain()}")
        time.sleep(0.05)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
