"""Cold start: no environment to first response, lambkin vs `runc run` of the same image with the RIE.

Run: .venv/bin/python -m bench.cold_start [--samples N]

- floor (anchor): lambkin's own RuncBackend creates a sandbox of the `python-echo-rie` image (overlay root,
  netns, cgroup; no CPU quota, as a plain `runc run`), starts it, connects into its network namespace to the RIE on 8080 as soon as it listens and
  sends the first invoke; timed from create() to the response.
- lambkin: `lambkin server` with the python-echo image already unpacked; N functions of that image (128 MB),
  each invoked once (so each invoke finds no environment), timed by the client from request to response.
  Init runs with every host core, then the quota proportional to memory applies (as Lambda boosts init).
Prints medians, the ratio (target <= 1.3) and lambkin's absolute median (target < 150 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from bench.support import (
    RIE_INVOKE,
    WORK,
    RieSandbox,
    create_function,
    creds,
    http_over,
    lambkin_connection,
    lambkin_server,
    post,
    signed_invoke,
)
from lambkin.sandbox.runc import RuncBackend

TARGET_RATIO = 1.3
TARGET_MS = 150.0


async def floor_samples(count: int) -> list[float]:
    backend = RuncBackend(WORK / "runc-data")
    await backend.cleanup_leftovers()
    samples = []
    for i in range(count + 1):
        rie = RieSandbox(backend, boost=True)
        started = time.perf_counter()
        await rie.create(f"benchcold{i:04d}")
        try:
            await rie.start()
            conn = http_over(await asyncio.to_thread(rie.connect))
            await asyncio.to_thread(
                post, conn, RIE_INVOKE, b'{"cold": true}', {"Content-Type": "application/json"}
            )
            elapsed = (time.perf_counter() - started) * 1000
            conn.close()
        finally:
            await rie.destroy()
        if i:  # the first one warms the page cache
            samples.append(elapsed)
    return samples


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.cold_start")
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args(argv)
    from tests.images import push

    body = b'{"cold": true}'
    lambkin_samples: list[float] = []
    with lambkin_server({"LAMBKIN_IDLE_TIMEOUT": "600"}, name="cold") as server:
        uri = push("python-echo", server.registry, creds(), tag="bench")
        names = [f"cold-{i}" for i in range(args.samples + 1)]
        for name in names:
            create_function(server, name, uri)
        for i, name in enumerate(names):
            path, headers = signed_invoke(server, name, body)
            conn = lambkin_connection(server)
            started = time.perf_counter()
            post(conn, path, body, headers)
            elapsed = (time.perf_counter() - started) * 1000
            conn.close()
            if i:  # the first one unpacks the image
                lambkin_samples.append(elapsed)
    floor = asyncio.run(floor_samples(args.samples))
    floor50, lk50 = statistics.median(floor), statistics.median(lambkin_samples)
    ratio = lk50 / floor50
    print(f"cold start, python-echo, {len(lambkin_samples)} samples each")
    print(
        f"floor   runc + aws-lambda-rie + first invoke : median {floor50:.1f} ms  min {min(floor):.1f}  max {max(floor):.1f}"
    )
    print(
        f"lambkin Invoke with no environment          : median {lk50:.1f} ms  min {min(lambkin_samples):.1f}  max {max(lambkin_samples):.1f}"
    )
    verdict = "PASS" if ratio <= TARGET_RATIO and lk50 < TARGET_MS else "FAIL"
    print(
        f"ratio lambkin/floor = {ratio:.2f} (target <= {TARGET_RATIO}); lambkin {lk50:.1f} ms (target < {TARGET_MS:.0f} ms) -> {verdict}"
    )
    print(json.dumps({"bench": "cold_start", "floor_ms": floor50, "lambkin_ms": lk50, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
