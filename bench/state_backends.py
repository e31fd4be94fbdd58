"""lambkin with its state on SQLite and on PostgreSQL, in the same run: SQS batch throughput, async accept
rate, GetFunction and warm invoke, each as the ratio PostgreSQL/SQLite.

Run: .venv/bin/python -m bench.state_backends [--clients C,C,...] [--per-client M] [--invokes N]

Starts one `lambkin server` on SQLite (the anchor, its data directory's files) and one on PostgreSQL (a
cluster of this run's own from Debian's binaries, fsync on, over its unix socket: tests/postgres.py), and
drives each with the same lean client processes (bench/queue_send_receive.py's LeanClient: SendMessageBatch,
ReceiveMessage of 10, DeleteMessageBatch, each signed with botocore's SigV4, each process on its own queue).
Prints messages sent, received and deleted per second on each, the best over the client counts, and
PostgreSQL/SQLite (targets: PostgreSQL >= 3,000 messages/s and >= 0.5 of SQLite); and where the CPU went,
in microseconds per message: the lambkin server, PostgreSQL (its postmaster and every backend) and the
clients (each process's own CPU from the moment the clock starts). CPU per message holds up while other
work loads the machine; messages per second do not.

Then, on a second server per backend (the test harness's, with a function of the test images and
LAMBKIN_ASYNC_CONCURRENCY=0 so that accepting is measured alone): async Invoke accepted per second (202s,
8 client threads), GetFunction p50 and warm synchronous Invoke p50 over one keep-alive connection. The warm
path reads no database, so its ratio should be 1 within noise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import postgres

from bench.async_invoke import rate
from bench.queue_send_receive import KEY, SECRET, cpu_seconds, free_port, lean_worker, wait_ready
from bench.support import create_function, lambkin_connection, lambkin_server, post, signed_invoke, timed


@contextmanager
def server(database_url: str | None, source: str | None = None) -> Iterator[tuple[str, int]]:
    """A lambkin server on its own data directory (and on `database_url`, if given), importing lambkin from
    `source` (a src directory) if given: endpoint, pid."""
    data = Path(tempfile.mkdtemp(prefix="lambkin-bench-"))
    port = free_port()
    env = {"LAMBKIN_ACCESS_KEY_ID": KEY, "LAMBKIN_SECRET_ACCESS_KEY": SECRET, "LAMBKIN_LOG_LEVEL": "WARNING"}
    if database_url is not None:
        env["LAMBKIN_DATABASE_URL"] = database_url
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([source, *os.environ.get("PYTHONPATH", "").split(os.pathsep)])
    command = [sys.executable, "-m", "lambkin", "server", "--data-dir", str(data), "--port", str(port)]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


@dataclass(frozen=True)
class Load:
    rate: float  # messages sent, received and deleted per second
    server_us: float  # CPU per message: the lambkin server
    database_us: float  # PostgreSQL's processes (0 on SQLite: its work is inside the server)
    clients_us: float  # the client processes


def postgres_cpu(cluster: postgres.PostgresServer | None) -> float:
    """CPU seconds used so far by the cluster's postmaster and its children (backends, WAL writer, ...)."""
    if cluster is None:
        return 0.0
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(entry.name) == postmaster or int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class _Clock:
    """The barrier a lean worker waits at, noting the process's CPU time when it lets go."""

    def __init__(self, barrier: Any) -> None:
        self.barrier = barrier
        self.started = 0.0

    def wait(self) -> None:
        self.barrier.wait()
        self.started = time.process_time()


def timed_worker(endpoint: str, name: str, count: int, barrier: Any, spent: Any) -> None:
    """A lean worker (bench.queue_send_receive) that reports the CPU seconds it used once the clock started."""
    clock = _Clock(barrier)
    lean_worker(endpoint, name, count, clock)
    spent.put(time.process_time() - clock.started)


def load(
    endpoint: str, clients: int, per_client: int, server_pid: int, cluster: postgres.PostgresServer | None
) -> Load:
    from bench import state_backends  # by its module name: spawned processes must find the worker

    context = multiprocessing.get_context("spawn")
    barrier, spent = context.Barrier(clients + 1), context.Queue()
    workers = [
        context.Process(
            target=state_backends.timed_worker, args=(endpoint, f"c{clients}-{i}", per_client, barrier, spent)
        )
        for i in range(clients)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    started, server_before, database_before = (
        time.perf_counter(),
        cpu_seconds(server_pid),
        postgres_cpu(cluster),
    )
    client_cpu = sum(spent.get() for _ in workers)
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    elapsed = time.perf_counter() - started
    server, database = cpu_seconds(server_pid) - server_before, postgres_cpu(cluster) - database_before
    total = clients * per_client
    return Load(total / elapsed, 1e6 * server / total, 1e6 * database / total, 1e6 * client_cpu / total)


def loads(
    database_url: str | None,
    cluster: postgres.PostgresServer | None,
    client_counts: list[int],
    per_client: int,
    source: str | None = None,
) -> dict[int, Load]:
    with server(database_url, source) as (endpoint, pid):
        return {n: load(endpoint, n, per_client, pid, cluster) for n in client_counts}


@dataclass(frozen=True)
class LambdaFigures:
    accepted_per_s: float  # async Invoke 202s per second
    get_function_ms: float  # p50
    warm_invoke_ms: float  # p50


def lambda_figures(database_url: str | None, name: str, invokes: int) -> LambdaFigures:
    from tests.images import BuiltImages

    env = {"LAMBKIN_ASYNC_CONCURRENCY": "0"}
    if database_url is not None:
        env["LAMBKIN_DATABASE_URL"] = database_url
    with lambkin_server(env=env, name=name) as server:
        uri = BuiltImages().push("python-handlers", server.registry, tag="v1")
        lam = create_function(server, "bench-echo", uri, ImageConfig={"Command": ["app.echo"]})
        rate(server, "bench-echo", "Event", 8, 20)  # warm-up
        accepted = rate(server, "bench-echo", "Event", 8, invokes // 8)
        got = []
        for _ in range(invokes):
            started = time.perf_counter()
            lam.get_function(FunctionName="bench-echo")
            got.append((time.perf_counter() - started) * 1000)
        body = b'{"bench": true}'
        path, headers = signed_invoke(server, "bench-echo", body)
        conn = lambkin_connection(server)
        timed(lambda: post(conn, path, body, headers), 50)  # warm-up: the environment is up
        warm = timed(lambda: post(conn, path, body, headers), invokes)
        conn.close()
    return LambdaFigures(accepted, statistics.median(got), statistics.median(warm))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="4,8,16", help="client process counts, comma-separated")
    parser.add_argument("--per-client", type=int, default=3000)
    parser.add_argument(
        "--invokes", type=int, default=1000, help="async accepts, GetFunctions, warm invokes (0: SQS only)"
    )
    parser.add_argument(
        "--against", metavar="SRC", help="also run the SQS loads on servers of this source tree (an A/B)"
    )
    args = parser.parse_args(argv)
    client_counts = [int(c) for c in args.clients.split(",") if c.strip() and int(c)]
    from tests.images import build_all

    if args.invokes:
        build_all()
    cluster = postgres.PostgresServer(fsync=True).start()
    before: dict[str, dict[int, Load]] = {}
    try:
        if args.against:  # first, so that a machine that grows busier over the run does not favour this tree
            before["SQLite"] = loads(None, None, client_counts, args.per_client, args.against)
            before["PostgreSQL"] = loads(
                cluster.create_database("before"), cluster, client_counts, args.per_client, args.against
            )
        sqlite = loads(None, None, client_counts, args.per_client)
        pg = loads(cluster.create_database("bench"), cluster, client_counts, args.per_client)
        if args.invokes:
            lambda_sqlite = lambda_figures(None, "state-sqlite", args.invokes)
            lambda_pg = lambda_figures(cluster.create_database("lambda"), "state-postgresql", args.invokes)
    finally:
        cluster.remove()
    print(f"SQS batch send + receive 10 + delete batch, client processes x {args.per_client} messages each:")
    rows = [(f"{name} ({args.against})", figures) for name, figures in before.items()]
    for n in client_counts:
        for name, figures in [
            *((label, f[n]) for label, f in rows),
            ("SQLite", sqlite[n]),
            ("PostgreSQL", pg[n]),
        ]:
            database = f", PostgreSQL {figures.database_us:3.0f}" if "PostgreSQL" in name else ""
            print(
                f"  x {n:2} {name:10} {figures.rate:6,.0f} messages/s; CPU us per message: server "
                f"{figures.server_us:3.0f}{database}, clients {figures.clients_us:3.0f}"
            )
    best_sqlite, best_pg = max(m.rate for m in sqlite.values()), max(m.rate for m in pg.values())
    ratio = best_pg / best_sqlite
    print(f"best: SQLite {best_sqlite:,.0f} messages/s (anchor), PostgreSQL {best_pg:,.0f} messages/s")
    print(
        f"ratio PostgreSQL/SQLite: {ratio:.2f} (target >= 0.5) {'PASS' if ratio >= 0.5 else 'MISS'}; "
        f"PostgreSQL {'PASS' if best_pg >= 3000 else 'MISS'} against >= 3,000 messages/s"
    )
    for name, runs in rows:
        best_before = max(m.rate for m in runs.values())
        ours = best_pg if "PostgreSQL" in name else best_sqlite
        print(
            f"best of {name}: {best_before:,.0f} messages/s; this tree / that one: {ours / best_before:.2f}"
        )
    if not args.invokes:
        return 0
    print(f"Lambda, {args.invokes} requests each, SQLite -> PostgreSQL (ratio PostgreSQL/SQLite):")
    for label, unit, ours, theirs in (
        ("async Invoke accepted", "/s", lambda_sqlite.accepted_per_s, lambda_pg.accepted_per_s),
        ("GetFunction p50", " ms", lambda_sqlite.get_function_ms, lambda_pg.get_function_ms),
        ("warm Invoke p50", " ms", lambda_sqlite.warm_invoke_ms, lambda_pg.warm_invoke_ms),
    ):
        print(f"  {label:22} {ours:8.2f}{unit} -> {theirs:8.2f}{unit}  ratio {theirs / ours:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
