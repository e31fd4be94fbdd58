"""Scale-out: 50 parallel invokes against a cold function (no environment yet): all served, none throttled.

Run: .venv/bin/python -m bench.scale_out [--parallel N]

`lambkin server` with the python-echo image already unpacked (a first function warmed it); a fresh function
of the same image gets N invokes at once from N client threads (raw keep-alive HTTP, SigV4-signed). Prints
how many succeeded and were throttled, the time until the last response (target: all within 3 s), and how
many environments served them. There is no anchor: the target is absolute.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.support import create_function, creds, lambkin_connection, lambkin_server, signed_invoke

TARGET_S = 3.0


def _starts() -> dict[str, str]:
    value = os.environ.get("LAMBKIN_MAX_PARALLEL_STARTS")
    return {"LAMBKIN_MAX_PARALLEL_STARTS": value} if value else {}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.scale_out")
    parser.add_argument("--parallel", type=int, default=50)
    args = parser.parse_args(argv)
    from tests.images import push

    body = b'{"scale": "out"}'
    with lambkin_server({"LAMBKIN_IDLE_TIMEOUT": "600", **_starts()}, name="scale") as server:
        uri = push("python-echo", server.registry, creds(), tag="bench")
        warm = create_function(server, "unpack", uri)
        warm.invoke(FunctionName="unpack", Payload=body)  # unpacks the image once
        create_function(server, "scale", uri)
        path, headers = signed_invoke(server, "scale", body)
        conns = [lambkin_connection(server) for _ in range(args.parallel)]
        barrier = threading.Barrier(args.parallel + 1)
        results: list[tuple[int, float, str]] = []

        def one(i: int) -> None:
            conn = conns[i]
            barrier.wait()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            data = response.read()
            results.append((response.status, time.perf_counter(), data.decode(errors="replace")[:200]))

        with ThreadPoolExecutor(args.parallel) as pool:
            futures = [pool.submit(one, i) for i in range(args.parallel)]
            barrier.wait()
            started = time.perf_counter()
            for future in futures:
                future.result()
        last = max(t for _, t, _ in results) - started
        ok = sum(1 for status, _, data in results if status == 200 and "errorType" not in data)
        throttled = sum(1 for status, _, _ in results if status == 429)
        logs = server.client("logs")
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/scale")["logStreams"]
    print(f"scale-out, python-echo, {args.parallel} parallel invokes on a cold function")
    print(
        f"served {ok}/{args.parallel}, throttled {throttled}, environments {len(streams)}, last response after {last:.2f} s"
    )
    verdict = "PASS" if ok == args.parallel and throttled == 0 and last <= TARGET_S else "FAIL"
    print(f"target: all served, none throttled, last within {TARGET_S:.0f} s -> {verdict}")
    if ok != args.parallel:
        print("sample failures:", [d for s, _, d in results if s != 200 or "errorType" in d][:3])
    print(
        json.dumps(
            {
                "bench": "scale_out",
                "served": ok,
                "throttled": throttled,
                "last_s": last,
                "environments": len(streams),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
