"""The server's CPU per warm invoke: what `bench.warm_invoke`'s latency is mostly made of, measured so that
other load on the machine barely moves it.

Run: .venv/bin/python -m bench.warm_cpu [--requests N] [--rounds N] [--build SRC ...]

One `lambkin server` per build (`--build` is a source tree put first on its PYTHONPATH; default: this
checkout), each with the python-echo function warm; the same signed Invoke is replayed over a keep-alive
connection, alternating rounds between the builds (in ABBA order: going first in a round is worth about
0.1 ms on a shared 2-vCPU machine), every server's loop pinned to the same CPU (left to `auto`, each server
would claim a CPU of its own, and the builds would differ in where they run too). For each round it reads
the CPU time the server's event loop thread spent (/proc/PID/task/PID/schedstat, in ns) and divides it by
the requests: no sampling, no profiler. Busy polling is off (it spends CPU on purpose). The least of the
rounds is the figure least disturbed by other processes; the median is printed beside it, and the p50
latency the client saw (an A/B of two builds under the same load, where `bench.warm_invoke`'s ratio to the
emulator is too noisy to compare).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import (
    MEMORY_MB,
    ROOT,
    create_function,
    creds,
    lambkin_connection,
    lambkin_server,
    percentile,
    post,
    signed_invoke,
    timed,
)


def loop_cpu_ns(pid: int) -> int:
    """CPU time of a process's main thread (its event loop), in ns."""
    return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.warm_cpu")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per build")
    parser.add_argument("--build", action="append", help="a source tree to run the server from (repeatable)")
    args = parser.parse_args(argv)
    from tests.images import push

    builds = args.build or [str(ROOT / "src")]
    body = b'{"bench": "warm"}'
    figures: dict[str, list[float]] = {}
    latencies: dict[str, list[float]] = {}
    with ExitStack() as stack:
        sides = []
        # every server's loop on the same CPU (under `auto` the first would take the highest, the second the
        # next, the third none): the builds differ in their code alone; one server runs at a time
        cpus = os.sched_getaffinity(0)
        loop_cpu = str(max(cpus)) if len(cpus) > 1 else "off"
        for index, build in enumerate(builds):
            env = {
                "LAMBKIN_FREEZE_AFTER": "5",
                "LAMBKIN_BUSY_POLL_US": "0",
                "LAMBKIN_LOOP_CPU": loop_cpu,
                "PYTHONPATH": f"{build}:{ROOT}",
            }
            server = stack.enter_context(lambkin_server(env, name=f"cpu{index}"))
            uri = push("python-echo", server.registry, creds(), tag="bench")
            lam = create_function(server, "warm", uri, MemorySize=MEMORY_MB)
            lam.invoke(FunctionName="warm", Payload=body)  # cold start, not counted
            sides.append((build, server, *signed_invoke(server, "warm", body)))
        for round_ in range(args.rounds):
            # ABBA: the build that goes first in a round fares differently, so each goes first in turn
            for build, server, path, headers in sides if round_ % 2 == 0 else sides[::-1]:
                conn = lambkin_connection(server)  # a fresh one: the last may have timed out idle meanwhile
                for _ in range(50):
                    post(conn, path, body, headers)
                pid = server.process.pid
                before = loop_cpu_ns(pid)
                call = functools.partial(post, conn, path, body, headers)
                latencies.setdefault(build, []).extend(timed(call, args.requests))
                figures.setdefault(build, []).append((loop_cpu_ns(pid) - before) / args.requests / 1000)
                conn.close()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(
        f"server loop CPU per warm invoke, python-echo, {args.requests} requests x {args.rounds} rounds, load {load}"
    )
    for build, rounds in figures.items():
        ordered = sorted(rounds)
        p50 = percentile(latencies[build], 0.5)
        print(
            f"{build}: least {ordered[0]:.0f} us, median {ordered[len(ordered) // 2]:.0f} us"
            f"  (rounds: {', '.join(f'{r:.0f}' for r in rounds)}); client p50 {p50:.3f} ms"
        )
    p50s = {build: percentile(samples, 0.5) for build, samples in latencies.items()}
    print(json.dumps({"bench": "warm_cpu", "load": float(load), "us_per_invoke": figures, "p50_ms": p50s}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
