"""SQS batch throughput through a cluster of three nodes vs one node, on one PostgreSQL, in the same run.

Run: .venv/bin/python -m bench.cluster_sqs [--clients N] [--per-client M]

Starts its own PostgreSQL (tests/postgres.py), then a server alone (no node name: what clustering itself
costs), a cluster of one node (the anchor) and a cluster of three nodes, each on a fresh database. N client processes (bench.queue_send_receive's lean worker: signed
requests over a raw socket, each on its own queue) send M messages in batches of 10, then receive and delete
them in batches of 10; with three nodes each client talks to one node (round-robin, as a load balancer
spreads connections), so about two requests in three reach a node that does not own the queue and are
relayed in one hop to its owner. Prints messages per second for both and the ratio three/one. The machine
has 2 cores: three nodes cannot be faster than one here; the figure is what the relaying costs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.queue_send_receive import KEY, SECRET, free_port, wait_ready


@contextmanager
def cluster(database: str, names: list[str]) -> Iterator[list[str]]:
    """`lambkin server` nodes sharing `database` (a name "": a server alone); their endpoints, once each
    answers /health."""
    with ExitStack() as stack:
        endpoints: list[str] = []
        for name in names:
            data = Path(tempfile.mkdtemp(prefix=f"lambkin-bench-{name or 'alone'}-"))
            stack.callback(shutil.rmtree, data, ignore_errors=True)
            port = free_port()
            env = {
                **os.environ,
                "LAMBKIN_ACCESS_KEY_ID": KEY,
                "LAMBKIN_SECRET_ACCESS_KEY": SECRET,
                "LAMBKIN_LOG_LEVEL": "WARNING",
                "LAMBKIN_DATABASE_URL": database,
            }
            if name:  # else a server alone on the same PostgreSQL
                env["LAMBKIN_NODE_NAME"] = name
            command = [
                sys.executable,
                "-m",
                "lambkin",
                "server",
                "--data-dir",
                str(data),
                "--port",
                str(port),
            ]
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(_stop, process)
            endpoint = f"http://127.0.0.1:{port}"
            wait_ready(endpoint + "/health", process)
            endpoints.append(endpoint)
        time.sleep(2.0)  # every node has seen the others beat: requests are spread from the first one
        yield endpoints


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def throughput(endpoints: list[str], clients: int, per_client: int, tag: str) -> float:
    """Messages per second sent, received and deleted by `clients` processes spread over `endpoints`."""
    from bench import queue_send_receive  # by module name: the spawned processes must find the worker

    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(clients + 1)
    workers = [
        context.Process(
            target=queue_send_receive.lean_worker,
            args=(endpoints[i % len(endpoints)], f"{tag}-{i}", per_client, ready),
        )
        for i in range(clients)
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a client process failed (exit {worker.exitcode})")
    return clients * per_client / (time.perf_counter() - started)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cluster_sqs")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--per-client", type=int, default=2000)
    args = parser.parse_args(argv)
    from tests.postgres import PostgresServer

    pg = PostgresServer().start()
    try:
        with cluster(pg.create_database("alone"), [""]) as endpoints:
            alone = throughput(endpoints, args.clients, args.per_client, "alone")
        with cluster(pg.create_database("one"), ["n1"]) as endpoints:
            one = throughput(endpoints, args.clients, args.per_client, "one")
        with cluster(pg.create_database("three"), ["n1", "n2", "n3"]) as endpoints:
            three = throughput(endpoints, args.clients, args.per_client, "three")
    finally:
        pg.remove()
    total = args.clients * args.per_client
    print(f"SQS batches of 10 (send, receive, delete), {args.clients} clients x {args.per_client} messages")
    print(f"a server alone (no node name), same PostgreSQL: {alone:,.0f} messages/s")
    print(f"one node:    {one:,.0f} messages/s ({one / alone:.2f} of the server alone)")
    print(
        f"three nodes: {three:,.0f} messages/s (clients spread over the nodes; relayed to each queue's owner)"
    )
    print(f"ratio three/one: {three / one:.2f} (2 shared cores: the cost of relaying, not a speed-up)")
    print(
        json.dumps(
            {
                "bench": "cluster_sqs",
                "messages": total,
                "alone_per_s": alone,
                "one_per_s": one,
                "three_per_s": three,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
