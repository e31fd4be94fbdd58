"""lambkin with its state on SQLite and on PostgreSQL, in the same run: SQS batch throughput, async accept
rate, GetFunction and warm invoke, each as the ratio PostgreSQL/SQLite.

Run: .venv/bin/python -m bench.state_backends [--clients C,C,...] [--per-client M] [--invokes N]

Starts one `lambkin server` on SQLite (the anchor, its data directory's files) and one on PostgreSQL (a
cluster of this run's own from Debian's binaries, fsync on, over its unix socket: tests/postgres.py), and
drives each with the same lean client processes (bench/queue_send_receive.py's LeanClient: SendMessageBatch,
ReceiveMessage of 10, DeleteMessageBatch, each process on its own queue). Prints messages sent, received
and deleted per second on each, the best over the client counts, and PostgreSQL/SQLite (targets:
PostgreSQL >= 3,000 messages/s and >= 0.5 of SQLite).

Then, on a second server per backend (the test harness's, with a function of the test images and
LAMBKIN_ASYNC_CONCURRENCY=0 so that accepting is measured alone): async Invoke accepted per second (202s,
8 client threads), GetFunction p50 and warm synchronous Invoke p50 over one keep-alive connection. The warm
path reads no database, so its ratio should be 1 within noise.
"""

from __future__ import annotations

import argparse
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

from tests import postgres

from bench.async_invoke import rate
from bench.queue_send_receive import KEY, SECRET, free_port, throughput, wait_ready
from bench.support import create_function, lambkin_connection, lambkin_server, post, signed_invoke, timed


@contextmanager
def server(database_url: str | None) -> Iterator[tuple[str, int]]:
    """A lambkin server on its own data directory (and on `database_url`, if given): endpoint, pid."""
    data = Path(tempfile.mkdtemp(prefix="lambkin-bench-"))
    port = free_port()
    env = {"LAMBKIN_ACCESS_KEY_ID": KEY, "LAMBKIN_SECRET_ACCESS_KEY": SECRET, "LAMBKIN_LOG_LEVEL": "WARNING"}
    if database_url is not None:
        env["LAMBKIN_DATABASE_URL"] = database_url
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


def best_rate(database_url: str | None, client_counts: list[int], per_client: int) -> dict[int, float]:
    with server(database_url) as (endpoint, pid):
        return {n: throughput(endpoint, n, per_client, pid, lean=True)[0] for n in client_counts}


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
    parser.add_argument("--clients", default="4,8", help="client process counts, comma-separated")
    parser.add_argument("--per-client", type=int, default=3000)
    parser.add_argument("--invokes", type=int, default=1000, help="async accepts, GetFunctions, warm invokes")
    args = parser.parse_args(argv)
    client_counts = [int(c) for c in args.clients.split(",") if c.strip() and int(c)]
    from tests.images import build_all

    build_all()
    cluster = postgres.PostgresServer(fsync=True).start()
    try:
        sqlite = best_rate(None, client_counts, args.per_client)
        pg = best_rate(cluster.create_database("bench"), client_counts, args.per_client)
        lambda_sqlite = lambda_figures(None, "state-sqlite", args.invokes)
        lambda_pg = lambda_figures(cluster.create_database("bench_lambda"), "state-postgresql", args.invokes)
    finally:
        cluster.remove()
    print(f"SQS batch send + receive 10 + delete batch, client processes x {args.per_client} messages each:")
    for n in client_counts:
        print(f"  x {n:2}: SQLite {sqlite[n]:,.0f} messages/s, PostgreSQL {pg[n]:,.0f} messages/s")
    best_sqlite, best_pg = max(sqlite.values()), max(pg.values())
    ratio = best_pg / best_sqlite
    print(f"best: SQLite {best_sqlite:,.0f} messages/s (anchor), PostgreSQL {best_pg:,.0f} messages/s")
    print(
        f"ratio PostgreSQL/SQLite: {ratio:.2f} (target >= 0.5) {'PASS' if ratio >= 0.5 else 'MISS'}; "
        f"PostgreSQL {'PASS' if best_pg >= 3000 else 'MISS'} against >= 3,000 messages/s"
    )
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
