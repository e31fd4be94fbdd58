"""Cluster placement's hop: warm invoke p50 through a node without the environment (one forward to the node
that has it) vs through the node that has it.

Run: .venv/bin/python -m bench.cluster_forward [--requests N]

A PostgreSQL of its own (tests/postgres.py) and two `lambkin server --node-name` on it. The python-echo image
is pushed to the version's home node (cluster.rendezvous.rank), the function created and warmed there; then
one client, one request at a time over raw keep-alive connections (SigV4-signed once up front, verified by
the server each time), alternates rounds through the home node (anchor: no hop) and through the other node
(which finds the home's idle environment in its heartbeat and relays the client's Invoke there). Prints
p50/p99 of both and the ratio of the p50s, hop/anchor (target <= 1.3), and the CPU time the lambkin
processes spent per request in each phase (both nodes together; the function's own process is not
counted): on a machine loaded by others, wall-clock latency grows with every process a request passes
through, CPU time does not.

A third phase is the hop's floor: the same request through HAProxy (HTTP mode, keep-alive on both sides, the
home node its one server), i.e. one more process and two more loopback crossings made by a load balancer
written in C. Its ratio to the anchor is what any hop costs on this machine, whoever makes it. A fourth is
the same through bench.byte_relay, a Python process on uvloop that only frames and forwards bytes: what a
hop costs when Python makes it, before routing, signing and checking.

With busy polling on (LAMBKIN_BUSY_POLL_US, 1000 here as by default) the CPU time includes the loops'
polling for what is due next; LAMBKIN_BUSY_POLL_US=0 in the bench's environment shows the work alone.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster import HAProxy
from tests.harness import LambkinServer
from tests.postgres import PostgresServer

from bench.support import (
    create_function,
    creds,
    http_over,
    lambkin_connection,
    lambkin_server,
    percentile,
    post,
    signed_invoke,
    timed,
)
from lambkin.cluster.rendezvous import rank

TARGET_RATIO = 1.3
NODES = ("node-a", "node-b")
FUNCTION = "forward"


def cpu_ms(servers: dict[str, LambkinServer]) -> dict[str, float]:
    """The CPU time (user + system) each node's process has used so far, in ms."""
    used = {}
    for name, server in servers.items():
        assert server.process is not None
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


@contextmanager
def cluster(database_url: str) -> Iterator[dict[str, LambkinServer]]:
    with ExitStack() as stack:
        servers = {}
        for name in NODES:
            env = {
                "LAMBKIN_DATABASE_URL": database_url,
                "LAMBKIN_NODE_NAME": name,
                "LAMBKIN_FREEZE_AFTER": "5",
                "LAMBKIN_IDLE_TIMEOUT": "600",
                "LAMBKIN_BUSY_POLL_US": os.environ.get("LAMBKIN_BUSY_POLL_US", "1000"),
            }
            servers[name] = stack.enter_context(lambkin_server(env, name=f"cluster-{name}"))
        yield servers


def _connection(port: int) -> http.client.HTTPConnection:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return http_over(sock)


def home_of(servers: dict[str, LambkinServer]) -> str:
    """The home node of the function's $LATEST (the node whose environment the other forwards to)."""
    account, region = "000000000000", "us-east-1"
    key = f"arn:aws:lambda:{region}:{account}:function:{FUNCTION}:$LATEST"
    return rank(key, sorted(servers))[0]


def wait_for_warm(through: LambkinServer, path: str, headers: dict[str, str], body: bytes) -> None:
    """Until the other node has heard the home's idle environment (its next heartbeat)."""
    time.sleep(3.0)
    conn = lambkin_connection(through)
    for _ in range(20):
        post(conn, path, body, headers)
    conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster_forward")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    from tests.images import push

    body = b'{"bench": "forward"}'
    postgres = PostgresServer().start()
    proxy: HAProxy | None = None
    relay: subprocess.Popen[str] | None = None
    try:
        with cluster(postgres.create_database("bench")) as servers:
            home = home_of(servers)
            other = next(name for name in servers if name != home)
            uri = push("python-echo", servers[home].registry, creds(), tag="bench")
            create_function(servers[home], FUNCTION, uri, MemorySize=1769)
            has_path, has_headers = signed_invoke(servers[home], FUNCTION, body)
            hop_path, hop_headers = signed_invoke(servers[other], FUNCTION, body)
            post(lambkin_connection(servers[home]), has_path, body, has_headers)  # the cold start
            wait_for_warm(servers[other], hop_path, hop_headers, body)
            proxy_root = Path(servers[home].data_dir).parent / "haproxy"
            proxy_root.mkdir(exist_ok=True)
            proxy = HAProxy(proxy_root, {home: f"127.0.0.1:{servers[home].port}"}).start()
            relay = subprocess.Popen(
                [sys.executable, "-m", "bench.byte_relay", str(servers[home].port)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
            assert relay.stdout is not None
            relay_port = int(relay.stdout.readline().split()[1])
            anchor: list[float] = []
            hop: list[float] = []
            floor: list[float] = []
            python_floor: list[float] = []
            cpu = {phase: dict.fromkeys(servers, 0.0) for phase in ("anchor", "hop")}
            per_round = max(1, args.requests // args.rounds)
            for _ in range(args.rounds):
                has_conn = lambkin_connection(servers[home])
                hop_conn = lambkin_connection(servers[other])
                proxy_conn = _connection(proxy.port)
                relay_conn = _connection(relay_port)
                before = cpu_ms(servers)
                anchor += timed(lambda: post(has_conn, has_path, body, has_headers), per_round)  # noqa: B023
                middle = cpu_ms(servers)
                hop += timed(lambda: post(hop_conn, hop_path, body, hop_headers), per_round)  # noqa: B023
                after = cpu_ms(servers)
                for name in servers:
                    cpu["anchor"][name] += middle[name] - before[name]
                    cpu["hop"][name] += after[name] - middle[name]
                floor += timed(lambda: post(proxy_conn, has_path, body, has_headers), per_round)  # noqa: B023
                python_floor += timed(lambda: post(relay_conn, has_path, body, has_headers), per_round)  # noqa: B023
                for conn in (has_conn, hop_conn, proxy_conn, relay_conn):
                    conn.close()
    finally:
        if relay is not None:
            relay.kill()
            relay.wait()
        if proxy is not None:
            proxy.stop()
        postgres.remove()
    ratio = statistics.median(hop) / statistics.median(anchor)
    print(
        f"warm invoke through {home} (has the environment): p50 {statistics.median(anchor):.3f} ms, "
        f"p99 {percentile(anchor, 0.99):.3f} ms"
    )
    print(
        f"warm invoke through {other} (one forward):         p50 {statistics.median(hop):.3f} ms, "
        f"p99 {percentile(hop, 0.99):.3f} ms"
    )
    print(
        f"warm invoke through HAProxy to {home} (the floor):  p50 {statistics.median(floor):.3f} ms, "
        f"p99 {percentile(floor, 0.99):.3f} ms"
    )
    print(
        f"warm invoke through a byte relay to {home}:       p50 {statistics.median(python_floor):.3f} ms, "
        f"p99 {percentile(python_floor, 0.99):.3f} ms"
    )
    print(f"ratio hop/anchor (p50): {ratio:.2f} (target <= {TARGET_RATIO}); {len(hop)} requests each")
    print(
        f"ratio floor/anchor (p50): {statistics.median(floor) / statistics.median(anchor):.2f} "
        "(a hop made by HAProxy instead of a lambkin node)"
    )
    print(
        f"ratio byte relay/anchor (p50): {statistics.median(python_floor) / statistics.median(anchor):.2f} "
        "(a hop made by Python that only frames and forwards bytes: bench.byte_relay)"
    )
    for phase, count in (("anchor", len(anchor)), ("hop", len(hop))):
        each = ", ".join(f"{name} {used / count:.3f} ms" for name, used in cpu[phase].items())
        print(f"lambkin CPU per request, {phase}: {sum(cpu[phase].values()) / count:.3f} ms ({each})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
