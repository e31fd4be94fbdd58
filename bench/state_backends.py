"""SQS batch throughput with lambkin's state on SQLite and on PostgreSQL, in the same run: the ratio.

Run: .venv/bin/python -m bench.state_backends [--clients C,C,...] [--per-client M]

Starts one `lambkin server` on SQLite (the anchor, its data directory's files) and one on PostgreSQL (a
cluster of this run's own from Debian's binaries, fsync on, over its unix socket: tests/postgres.py), and
drives each with the same lean client processes (bench/queue_send_receive.py's LeanClient: SendMessageBatch,
ReceiveMessage of 10, DeleteMessageBatch, each process on its own queue). Prints messages sent, received
and deleted per second on each, the best over the client counts, and PostgreSQL/SQLite (targets:
PostgreSQL >= 3,000 messages/s and >= 0.5 of SQLite).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import postgres

from bench.queue_send_receive import KEY, SECRET, free_port, throughput, wait_ready


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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="4,8", help="client process counts, comma-separated")
    parser.add_argument("--per-client", type=int, default=3000)
    args = parser.parse_args(argv)
    client_counts = [int(c) for c in args.clients.split(",") if c.strip() and int(c)]
    cluster = postgres.PostgresServer(fsync=True).start()
    try:
        sqlite = best_rate(None, client_counts, args.per_client)
        pg = best_rate(cluster.create_database("bench"), client_counts, args.per_client)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
