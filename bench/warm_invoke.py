"""Warm invoke latency, one client, one request at a time: lambkin's Invoke API vs the AWS RIE in runc.

Run: .venv/bin/python -m bench.warm_invoke [--requests N]

Both sides run the toolchain's python-echo image (Debian + python3 + awslambdaric, handler app.handler):
- anchor: the `python-echo-rie` image (the same image with `aws-lambda-rie` as entrypoint) in a runc sandbox
  made by lambkin's own RuncBackend; the client connects into the sandbox's network namespace to the RIE on
  port 8080 and POSTs /2015-03-31/functions/function/invocations;
- lambkin: `lambkin server` as a subprocess, the image pushed to its registry, a function created with boto3;
  the client POSTs the Invoke operation, SigV4-signed once up front (the server still verifies it each time).
  The server runs as deployed: its loop on a CPU of its own, the function's sandbox on the others
  (loop_cpu.py); the emulator's sandbox runs on every CPU, as `docker run` would start it.
- floor: the same image in the same kind of sandbox with its Runtime API served by a bare relay in a process
  of its own, its loop pinned to the CPU lambkin's loop has (bench.relay_floor): what any Python server on
  this machine costs at least.
The same raw keep-alive HTTP client (http.client) measures all three, alternating rounds. Prints p50/p99 and
the ratio of the p50s lambkin/RIE (target <= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import (
    MEMORY_MB,
    RIE_INVOKE,
    ROOT,
    WORK,
    RieSandbox,
    create_function,
    creds,
    http_over,
    lambkin_connection,
    lambkin_server,
    local_connection,
    percentile,
    post,
    ready_port,
    signed_invoke,
    timed,
)
from lambkin.sandbox.runc import RuncBackend

TARGET_RATIO = 0.8


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.warm_invoke")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per side")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    args = parser.parse_args(argv)
    from tests.images import push

    body = b'{"bench": "warm"}'
    per_round = max(1, args.requests // args.rounds)
    rie_samples: list[float] = []
    lambkin_samples: list[float] = []
    floor_samples: list[float] = []
    with lambkin_server({"LAMBKIN_FREEZE_AFTER": "5"}) as server:
        uri = push("python-echo", server.registry, creds(), tag="bench")
        lam = create_function(server, "warm", uri, MemorySize=MEMORY_MB)
        lam.invoke(FunctionName="warm", Payload=body)  # cold start, not timed
        path, headers = signed_invoke(server, "warm", body)

        assert server.process is not None
        loop_cpus = os.sched_getaffinity(server.process.pid)  # its loop thread's: pinned under auto
        floor = subprocess.Popen(
            [sys.executable, "-m", "bench.relay_floor", "benchwarmfloor"]
            + ([str(min(loop_cpus))] if len(loop_cpus) == 1 else []),
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

        async def anchor() -> None:
            backend = RuncBackend(WORK / "runc-data")
            await backend.cleanup_leftovers()
            rie = RieSandbox(backend, memory_mb=MEMORY_MB)
            await rie.create("benchwarmrie")
            try:
                await rie.start()
                floor_port = await asyncio.to_thread(ready_port, floor)
                rie_conn = http_over(await asyncio.to_thread(rie.connect))
                floor_conn = local_connection(floor_port)
                # opened last: made earlier, it may sit idle past the server's keep-alive timeout while the
                # sandboxes start on a busy machine, and the server closes it
                lambkin_conn = lambkin_connection(server)
                plain = {"Content-Type": "application/json"}
                rie_call = lambda: post(rie_conn, RIE_INVOKE, body, plain)  # noqa: E731
                floor_call = lambda: post(floor_conn, "/invoke", body, plain)  # noqa: E731
                lambkin_call = lambda: post(lambkin_conn, path, body, headers)  # noqa: E731
                for warm in (rie_call, lambkin_call, floor_call):
                    await asyncio.to_thread(timed, warm, 200)
                for _ in range(args.rounds):
                    rie_samples.extend(await asyncio.to_thread(timed, rie_call, per_round))
                    lambkin_samples.extend(await asyncio.to_thread(timed, lambkin_call, per_round))
                    floor_samples.extend(await asyncio.to_thread(timed, floor_call, per_round))
            finally:
                await rie.destroy()

        import uvloop

        try:
            uvloop.run(anchor())
        finally:
            floor.terminate()  # it destroys its sandbox on SIGTERM
            floor.wait()
    rie50, rie99 = percentile(rie_samples, 0.5), percentile(rie_samples, 0.99)
    lk50, lk99 = percentile(lambkin_samples, 0.5), percentile(lambkin_samples, 0.99)
    ratio = lk50 / rie50
    print(
        f"warm invoke, python-echo, MemorySize {MEMORY_MB} on both sides, {len(lambkin_samples)} requests per side,"
        " one client, keep-alive"
    )
    print(
        f"anchor  aws-lambda-rie in runc : p50 {rie50:.3f} ms  p99 {rie99:.3f} ms  mean {statistics.mean(rie_samples):.3f} ms"
    )
    print(
        f"lambkin Invoke API (SigV4)     : p50 {lk50:.3f} ms  p99 {lk99:.3f} ms  mean {statistics.mean(lambkin_samples):.3f} ms"
    )
    fl50 = percentile(floor_samples, 0.5)
    print(
        f"floor   bare relay in runc     : p50 {fl50:.3f} ms  p99 {percentile(floor_samples, 0.99):.3f} ms"
        f"  ({fl50 / rie50:.2f} of RIE: the least a Python server costs here)"
    )
    print(
        f"ratio p50 lambkin/RIE = {ratio:.2f} (target <= {TARGET_RATIO}) -> {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}"
    )
    print(
        json.dumps(
            {
                "bench": "warm_invoke",
                "rie_p50_ms": rie50,
                "rie_p99_ms": rie99,
                "lambkin_p50_ms": lk50,
                "lambkin_p99_ms": lk99,
                "floor_p50_ms": fl50,
                "ratio": ratio,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
