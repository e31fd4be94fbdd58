"""How soon a change made through one node is what another answers: two nodes on one PostgreSQL.

Run: .venv/bin/python -m bench.cluster_news [--changes N]

Starts a PostgreSQL of this run's own (tests/postgres.py, fsync on) and two `lambkin server` nodes on it
(--node-name a and b, own data directories and ports), creates one function through node A, then N times:
UpdateFunctionConfiguration (a new Description) through A, and from A's answer on, GetFunctionConfiguration
through B as fast as one client can until B answers the new Description (B held the old one in its read
cache: the bus's news drops it). Prints the delay's p50 and p95 in ms, the anchor (a GetFunctionConfiguration
through B, the poll's own resolution), and their ratio. Issue 16's promise: within a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests import postgres
from tests.e2e.lambda_support import push

from bench.support import create_function, lambkin_server, percentile


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args(argv)
    cluster = postgres.PostgresServer(fsync=True).start()
    try:
        database = cluster.create_database("news")
        env_a = {"LAMBKIN_DATABASE_URL": database, "LAMBKIN_NODE_NAME": "a"}
        env_b = {"LAMBKIN_DATABASE_URL": database, "LAMBKIN_NODE_NAME": "b"}
        with (
            lambkin_server(env_a, name="news-a") as a,
            lambkin_server(env_b, name="news-b") as b,
            tempfile.TemporaryDirectory() as work,
        ):
            uri, _ = push(a, Path(work), "news", "v1", "news")
            on_a = create_function(a, "news", uri)
            on_b = b.client("lambda")
            anchor = []
            for _ in range(args.changes):
                started = time.perf_counter()
                on_b.get_function_configuration(FunctionName="news")
                anchor.append((time.perf_counter() - started) * 1000)
            delays = []
            for i in range(args.changes):
                on_a.update_function_configuration(FunctionName="news", Description=f"change {i}")
                changed = time.perf_counter()
                while on_b.get_function_configuration(FunctionName="news")["Description"] != f"change {i}":
                    pass
                delays.append((time.perf_counter() - changed) * 1000)
                on_a.get_waiter("function_updated_v2").wait(FunctionName="news", WaiterConfig={"Delay": 0.1})
    finally:
        cluster.remove()
    p50, p95 = statistics.median(delays), percentile(delays, 95)
    read = statistics.median(anchor)
    print(f"change through A seen through B: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(delays):.1f} ms")
    print(f"anchor, GetFunctionConfiguration through B: p50 {read:.1f} ms")
    print(f"ratio news delay p50 / read p50: {p50 / read:.2f}  (promise: seen within 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
