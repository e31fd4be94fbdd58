"""Cluster placement's hop: warm invoke p50 through a node without the environment (one forward to the node
that has it) vs through the node that has it.

Run: .venv/bin/python -m bench.cluster_forward [--requests N] [--rounds N] [--build SRC ...]

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

`--build SRC` (repeatable) runs one sending node per source tree (on its PYTHONPATH), all relaying to the
same home node (this checkout), their rounds taken in turn after the anchor's: an A/B of the hop under the
same load, where separate runs move the anchor's p50 by a third and the ratio by 0.15.

With busy polling on (LAMBKIN_BUSY_POLL_US, 1000 here as by default) the CPU time includes the loops'
polling for what is due next; LAMBKIN_BUSY_POLL_US=0 in the bench's environment shows the work alone.
"""

from __future__ import annotations

import argparse
import functools
import os
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
    MEMORY_MB,
    ROOT,
    create_function,
    creds,
    lambkin_connection,
    lambkin_server,
    local_connection,
    percentile,
    post,
    ready_port,
    signed_invoke,
    timed,
)
from lambkin.cluster.rendezvous import rank

TARGET_RATIO = 1.3
FUNCTION = "forward"
KEY = f"arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION}:$LATEST"  # its $LATEST's placement key


def cpu_ms(servers: dict[str, LambkinServer]) -> dict[str, float]:
    """The CPU time (user + system) each node's process has used so far, in ms."""
    used = {}
    for name, server in servers.items():
        assert server.process is not None
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


def placed(builds: list[str | None]) -> tuple[str, dict[str, str | None]]:
    """The nodes: the function's home node (this checkout) and one sending node per build (None: this
    checkout), named so that rendezvous hashing makes the first the home."""
    names = [f"node-{chr(ord('a') + index)}" for index in range(len(builds) + 1)]
    home = rank(KEY, names)[0]
    senders = [name for name in names if name != home]
    return home, {home: None, **dict(zip(senders, builds, strict=True))}


@contextmanager
def cluster(database_url: str, nodes: dict[str, str | None]) -> Iterator[dict[str, LambkinServer]]:
    with ExitStack() as stack:
        servers = {}
        for name, build in nodes.items():
            env = {
                "LAMBKIN_DATABASE_URL": database_url,
                "LAMBKIN_NODE_NAME": name,
                "LAMBKIN_FREEZE_AFTER": "5",
                "LAMBKIN_IDLE_TIMEOUT": "600",
                "LAMBKIN_BUSY_POLL_US": os.environ.get("LAMBKIN_BUSY_POLL_US", "1000"),
            }
            if build is not None:
                env["PYTHONPATH"] = f"{build}:{ROOT}"
            servers[name] = stack.enter_context(lambkin_server(env, name=f"cluster-{name}"))
        yield servers


def warm_up(through: LambkinServer, path: str, headers: dict[str, str], body: bytes) -> None:
    """A few untimed Invokes through a sending node (its kept connection to the home made, its caches
    filled), once it has heard of the home's idle environment."""
    conn = lambkin_connection(through)
    for _ in range(20):
        post(conn, path, body, headers)
    conn.close()


def _line(label: str, samples: list[float]) -> str:
    return f"{label:<52} p50 {statistics.median(samples):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster_forward")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--build",
        action="append",
        help="a source tree to run a sending node from (repeatable): one node per build, side by side",
    )
    args = parser.parse_args(argv)
    from tests.images import push

    builds: list[str | None] = args.build or [None]
    home, nodes = placed(builds)
    senders = [name for name in nodes if name != home]
    body = b'{"bench": "forward"}'
    postgres = PostgresServer().start()
    proxy: HAProxy | None = None
    relay: subprocess.Popen[str] | None = None
    samples: dict[str, list[float]] = {name: [] for name in ("anchor", *senders, "haproxy", "byte relay")}
    cpu = {phase: dict.fromkeys(nodes, 0.0) for phase in ("anchor", *senders)}
    try:
        with cluster(postgres.create_database("bench"), nodes) as servers:
            uri = push("python-echo", servers[home].registry, creds(), tag="bench")
            create_function(servers[home], FUNCTION, uri, MemorySize=MEMORY_MB)
            signed = {name: signed_invoke(servers[name], FUNCTION, body) for name in nodes}
            has_path, has_headers = signed[home]
            post(lambkin_connection(servers[home]), has_path, body, has_headers)  # the cold start
            time.sleep(3.0)  # the home's idle environment heard of by the others (their next heartbeat)
            for name in senders:
                warm_up(servers[name], *signed[name], body)
            proxy_root = Path(servers[home].data_dir).parent / "haproxy"
            proxy_root.mkdir(exist_ok=True)
            proxy = HAProxy(proxy_root, {home: f"127.0.0.1:{servers[home].port}"}).start()
            relay = subprocess.Popen(
                [sys.executable, "-m", "bench.byte_relay", str(servers[home].port)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            relay_port = ready_port(relay)
            per_round = max(1, args.requests // args.rounds)
            for round_ in range(args.rounds):
                conns = {name: lambkin_connection(servers[name]) for name in nodes}
                proxy_conn, relay_conn = local_connection(proxy.port), local_connection(relay_port)
                # the senders side by side, each going first in turn: the VM's moods fall on them alike
                order = senders[round_ % len(senders) :] + senders[: round_ % len(senders)]
                for phase in ("anchor", *order):
                    node = home if phase == "anchor" else phase
                    call = functools.partial(post, conns[node], signed[node][0], body, signed[node][1])
                    before = cpu_ms(servers)
                    samples[phase] += timed(call, per_round)
                    after = cpu_ms(servers)
                    for name in nodes:
                        cpu[phase][name] += after[name] - before[name]
                samples["haproxy"] += timed(
                    functools.partial(post, proxy_conn, has_path, body, has_headers), per_round
                )
                samples["byte relay"] += timed(
                    functools.partial(post, relay_conn, has_path, body, has_headers), per_round
                )
                for conn in (*conns.values(), proxy_conn, relay_conn):
                    conn.close()
    finally:
        if relay is not None:
            relay.kill()
            relay.wait()
        if proxy is not None:
            proxy.stop()
        postgres.remove()
    anchor = statistics.median(samples["anchor"])
    print(_line(f"warm invoke through {home} (has the environment):", samples["anchor"]))
    for name in senders:
        built = f" [{nodes[name]}]" if args.build else ""
        print(_line(f"warm invoke through {name} (one forward){built}:", samples[name]))
    print(_line(f"warm invoke through HAProxy to {home} (the floor):", samples["haproxy"]))
    print(_line(f"warm invoke through a byte relay to {home}:", samples["byte relay"]))
    ratios = {name: statistics.median(samples[name]) / anchor for name in senders}
    for name in senders:
        print(f"ratio hop/anchor (p50) through {name}: {ratios[name]:.2f} (target <= {TARGET_RATIO})")
    print(f"{len(samples['anchor'])} requests each")
    print(
        f"ratio floor/anchor (p50): {statistics.median(samples['haproxy']) / anchor:.2f} "
        "(a hop made by HAProxy instead of a lambkin node)"
    )
    print(
        f"ratio byte relay/anchor (p50): {statistics.median(samples['byte relay']) / anchor:.2f} "
        "(a hop made by Python that only frames and forwards bytes: bench.byte_relay)"
    )
    for phase, used in cpu.items():
        count = len(samples[phase])
        each = ", ".join(f"{name} {ms / count:.3f} ms" for name, ms in used.items())
        print(f"lambkin CPU per request, {phase}: {sum(used.values()) / count:.3f} ms ({each})")
    return 0 if ratios[senders[0]] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
