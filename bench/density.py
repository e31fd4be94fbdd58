"""Density: lambkin's own memory per idle warm environment, over 200 environments.

Run: .venv/bin/python -m bench.density [--environments N]

`lambkin server` runs the toolchain's `busybox` image (a shell custom runtime, so the function's own
processes are tiny and outside lambkin anyway). N invokes of its `sleep` handler at once make N environments;
once they have all answered, the environments sit idle (warm, then frozen). lambkin's RSS (VmRSS of the
server process) is read with one warm environment and again with N; the growth divided by N-1 is lambkin's
cost per environment (target <= 2 MB). There is no anchor: the target is absolute.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.support import create_function, creds, lambkin_connection, lambkin_server, signed_invoke

TARGET_MB = 2.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.density")
    parser.add_argument("--environments", type=int, default=200)
    parser.add_argument(
        "--sleep", type=int, default=20, help="seconds each first invoke holds its environment"
    )
    args = parser.parse_args(argv)
    from tests.images import push

    count = args.environments
    env = {"LAMBKIN_IDLE_TIMEOUT": "3600", "LAMBKIN_MAX_PARALLEL_STARTS": "16"}
    with lambkin_server(env, name="density") as server:
        assert server.process is not None
        pid = server.process.pid
        uri = push("busybox", server.registry, creds(), tag="bench")
        create_function(
            server,
            "dense",
            uri,
            ImageConfig={"Command": ["sleep"]},
            Timeout=120,
            Environment={"Variables": {"SLEEP_SECONDS": str(args.sleep)}},
        )
        quick = create_function(server, "one", uri)
        quick.invoke(FunctionName="one", Payload=b"{}")
        time.sleep(2)
        before = rss_kb(pid)
        body = b'{"dense": true}'
        path, headers = signed_invoke(server, "dense", body)
        conns = [lambkin_connection(server) for _ in range(count)]
        barrier = threading.Barrier(count)
        statuses: list[int] = []

        def one(i: int) -> None:
            barrier.wait()
            conns[i].request("POST", path, body, headers)
            response = conns[i].getresponse()
            response.read()
            statuses.append(response.status)

        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(one, range(count)))
        took = time.perf_counter() - started
        for conn in conns:
            conn.close()
        time.sleep(3)  # idle: past the freeze delay
        after = rss_kb(pid)
        environments = len(
            server.client("logs").describe_log_streams(logGroupName="/aws/lambda/dense")["logStreams"]
        )
    per_env_mb = (after - before) / 1024 / max(1, environments - 1)
    ok = sum(1 for s in statuses if s == 200)
    print(
        f"density, busybox shell runtime, {count} concurrent first invokes ({ok} answered 200 in {took:.1f} s)"
    )
    print(f"idle warm environments: {environments}")
    print(
        f"lambkin RSS: {before / 1024:.1f} MB with 1 environment, {after / 1024:.1f} MB with {environments}"
    )
    verdict = "PASS" if per_env_mb <= TARGET_MB and environments >= count else "FAIL"
    print(f"lambkin memory per environment: {per_env_mb:.2f} MB (target <= {TARGET_MB} MB) -> {verdict}")
    print(
        json.dumps(
            {
                "bench": "density",
                "environments": environments,
                "rss_before_kb": before,
                "rss_after_kb": after,
                "per_env_mb": per_env_mb,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
