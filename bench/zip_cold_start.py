"""Zip vs image: cold start and warm invoke of the same Python echo handler shipped as a .zip on a managed
runtime and as an image, in the same run on the same server.

Run: .venv/bin/python -m bench.zip_cold_start [--samples N] [--warm-rounds R]

- anchor: image functions of python-handlers (handler app.echo), each invoked once with no environment.
- zip: zip functions of a one-file echo package on a runtime made of the same image (the stand-in runtime of
  the tests: tests/e2e/zip_support.py), each invoked once with no environment; its image is the runtime's
  layers plus the package's one layer, each unpacked once.
Prints medians and the ratios zip/image (target: cold <= 1.1, warm equal within noise).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from tests.harness import LambkinServer

from bench.support import (
    create_function,
    creds,
    lambkin_connection,
    lambkin_server,
    post,
    signed_invoke,
    timed,
)

TARGET_RATIO = 1.1
ECHO = "def handler(event, context):\n    return event\n"
# The stand-in runtime is the python-handlers image, Debian 12's python3.11: named so, as AWS_EXECUTION_ENV
# tells awslambdaric (on python3.12 and later it polls for events from a thread, costing CPU per invoke).
RUNTIME = "python3.11"


def once(server: LambkinServer, name: str, body: bytes) -> float:
    """Milliseconds of one invoke, from request to response."""
    path, headers = signed_invoke(server, name, body)
    conn = lambkin_connection(server)
    started = time.perf_counter()
    post(conn, path, body, headers)
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    return elapsed


def warm(server: LambkinServer, name: str, body: bytes, count: int) -> list[float]:
    path, headers = signed_invoke(server, name, body)
    conn = lambkin_connection(server)
    try:
        return timed(lambda: post(conn, path, body, headers), count)[1:]
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.zip_cold_start")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--warm-rounds", type=int, default=10, help="alternated rounds of 50 warm invokes")
    args = parser.parse_args(argv)
    from tests.e2e.lambda_support import execution_role
    from tests.e2e.zip_support import standin_runtime, zip_of
    from tests.images import BuiltImages, build_all, push

    build_all()
    body = b'{"cold": true}'
    with lambkin_server({"LAMBKIN_IDLE_TIMEOUT": "600"}, name="zipcold") as server:
        uri = push("python-handlers", server.registry, creds(), tag="bench")
        standin_runtime(server, BuiltImages(), RUNTIME)
        images = [f"image-{i}" for i in range(args.samples + 1)]
        zips = [f"zip-{i}" for i in range(args.samples + 1)]
        package = zip_of({"echo.py": ECHO})
        lam = None
        for name in images:
            lam = create_function(server, name, uri, ImageConfig={"Command": ["app.echo"]})
        assert lam is not None
        role = execution_role(server.endpoint)
        for name in zips:
            lam.create_function(
                FunctionName=name,
                Role=role,
                Runtime=RUNTIME,
                Handler="echo.handler",
                Code={"ZipFile": package},
            )
            lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
            )
        image_cold, zip_cold = [], []
        for i, (image, packaged) in enumerate(zip(images, zips, strict=True)):  # alternated: the same load
            image_ms, zip_ms = once(server, image, body), once(server, packaged, body)
            if i:  # the first of each unpacks its image's layers
                image_cold.append(image_ms)
                zip_cold.append(zip_ms)
        image_warm, zip_warm = [], []
        for _ in range(args.warm_rounds):  # alternated rounds: neither side always runs second
            image_warm += warm(server, images[0], body, 51)
            zip_warm += warm(server, zips[0], body, 51)
    cold_ratio = statistics.median(zip_cold) / statistics.median(image_cold)
    warm_ratio = statistics.median(zip_warm) / statistics.median(image_warm)
    print(f"zip vs image, python echo, {len(image_cold)} cold samples each, {len(image_warm)} warm")
    print(
        f"cold image (anchor) median {statistics.median(image_cold):.1f} ms; zip median {statistics.median(zip_cold):.1f} ms"
    )
    print(
        f"warm image (anchor) median {statistics.median(image_warm):.2f} ms; zip median {statistics.median(zip_warm):.2f} ms"
    )
    verdict = "PASS" if cold_ratio <= TARGET_RATIO else "FAIL"
    print(
        f"ratio zip/image cold = {cold_ratio:.2f} (target <= {TARGET_RATIO}) -> {verdict}; warm = {warm_ratio:.2f}"
    )
    print(json.dumps({"bench": "zip_cold_start", "cold_ratio": cold_ratio, "warm_ratio": warm_ratio}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
