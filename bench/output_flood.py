"""`/health` latency while a function floods 100 MB of output, against `/health` with no flood, in the same run.

Run: .venv/bin/python -m bench.output_flood [--megabytes 100] [--floods 3] [--quiet-samples 2000]

One `lambkin server`, the python-handlers image's app.flood (100-byte numbered lines, written as fast as the
function can, 1,769 MB so it has a whole core), warmed up first. A keep-alive client GETs /health one request
at a time: first with nothing else going on (the anchor), then while each of `--floods` invokes of the flood
runs. Prints p50/p99 of both and the ratio of the p99s; the target is a p99 under 10 ms during the flood.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import LambkinServer

from bench.support import MEMORY_MB, create_function, lambkin_server, percentile

TARGET_P99_MS = 10.0


def health(conn: http.client.HTTPConnection) -> float:
    """One GET /health; its latency in seconds."""
    started = time.perf_counter()
    conn.request("GET", "/health")
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 200, response.status
    return elapsed


def quiet(server: LambkinServer, samples: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        return [health(conn) for _ in range(samples)]
    finally:
        conn.close()


def flooding(server: LambkinServer, lam: Any, megabytes: int, floods: int) -> tuple[list[float], float]:
    """/health latencies while each flood runs, and the floods' mean duration in seconds."""
    latencies: list[float] = []
    durations: list[float] = []

    def invoke(done: threading.Event) -> None:
        started = time.perf_counter()
        response = lam.invoke(FunctionName="flood", Payload=json.dumps({"megabytes": megabytes}))
        response["Payload"].read()
        durations.append(time.perf_counter() - started)
        done.set()

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for _ in range(floods):
            done = threading.Event()
            thread = threading.Thread(target=invoke, args=(done,))
            thread.start()
            while not done.is_set():
                latencies.append(health(conn))
            thread.join()
    finally:
        conn.close()
    return latencies, sum(durations) / len(durations)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--floods", type=int, default=3)
    parser.add_argument("--quiet-samples", type=int, default=2000)
    args = parser.parse_args(argv)

    from tests.images import BuiltImages, build_all

    build_all()
    with lambkin_server(name="output-flood") as server:
        uri = BuiltImages().push("python-handlers", server.registry, tag="v1")
        lam = create_function(
            server, "flood", uri, ImageConfig={"Command": ["app.flood"]}, MemorySize=MEMORY_MB, Timeout=300
        )
        lam.invoke(FunctionName="flood", Payload=b'{"megabytes": 0}')  # init, before any timing
        quiet(server, 200)  # warm-up
        anchor = quiet(server, args.quiet_samples)
        during, flood_s = flooding(server, lam, args.megabytes, args.floods)
    quiet_p50, quiet_p99 = percentile(anchor, 0.5) * 1e3, percentile(anchor, 0.99) * 1e3
    flood_p50, flood_p99 = percentile(during, 0.5) * 1e3, percentile(during, 0.99) * 1e3
    print(
        f"anchor: /health with no flood, {len(anchor)} requests: p50 {quiet_p50:.2f} ms, p99 {quiet_p99:.2f} ms"
    )
    print(
        f"/health while {args.megabytes} MB of output floods ({args.floods} floods, {flood_s:.2f} s each on average, "
        f"{len(during)} requests): p50 {flood_p50:.2f} ms, p99 {flood_p99:.2f} ms"
    )
    verdict = "met" if flood_p99 < TARGET_P99_MS else "missed"
    print(
        f"ratio of the p99s flood/quiet: {flood_p99 / quiet_p99:.1f}; target p99 < {TARGET_P99_MS:.0f} ms: {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
