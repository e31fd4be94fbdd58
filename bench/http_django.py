"""Django through a function URL vs the same app served by uvicorn directly, one client, keep-alive.

Run: .venv/bin/python -m bench.http_django [--requests N] [--path /api/echo/?x=1]

Both sides run the toolchain's `python-django` image (Debian + python3 + Django 5.2 + Mangum + uvicorn):
- anchor: the image's Django ASGI app served by `uvicorn` (httptools, uvloop) inside a runc sandbox made by
  lambkin's own RuncBackend with the same MemorySize (so the same CPU quota); the client connects into the
  sandbox's network namespace to port 8080;
- lambkin: `lambkin server` as a subprocess, the image pushed to its registry, a function (`app.handler` =
  Mangum(Django)) with a function URL (AuthType NONE); the client sends the same GET to the server's port with
  the URL's Host and path (`/lambda-url/<id>/...` by default): front door → payload 2.0 event → Runtime API →
  awslambdaric → Mangum → Django.
The same raw keep-alive HTTP client (http.client) measures both, alternating rounds. Prints requests/s and
p50/p99 of each side and the ratio of the p50s (target <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import sys
from urllib.parse import urlsplit

from bench.support import (
    MEMORY_MB,
    WORK,
    RieSandbox,
    create_function,
    http_over,
    lambkin_connection,
    lambkin_server,
    percentile,
    timed,
)
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxSpec

TARGET_RATIO = 1.5


class UvicornSandbox(RieSandbox):
    """The python-django image in a runc sandbox, running uvicorn on 127.0.0.1:8080 instead of the runtime."""

    def spec(self, sandbox_id: str) -> SandboxSpec:
        from dataclasses import replace

        from tests.images.webapps import DJANGO_UVICORN

        return replace(super().spec(sandbox_id), args=DJANGO_UVICORN)


def get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bytes:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")
    return data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.http_django")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per side")
    parser.add_argument(
        "--rounds", type=int, default=20, help="alternating rounds (many: the host is shared)"
    )
    parser.add_argument("--path", default="/api/echo/?x=1", help="the Django view to request")
    args = parser.parse_args(argv)
    from tests.e2e.lambda_support import public_url
    from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY
    from tests.images import push

    per_round = max(1, args.requests // args.rounds)
    direct: list[float] = []
    through: list[float] = []
    with lambkin_server({"LAMBKIN_FREEZE_AFTER": "5"}, name="http-django") as server:
        uri = push("python-django", server.registry, (ACCESS_KEY_ID, SECRET_ACCESS_KEY), tag="bench")
        lam = create_function(
            server, "django", uri, MemorySize=MEMORY_MB, Timeout=30, ImageConfig={"Command": ["app.handler"]}
        )
        url = urlsplit(public_url(lam, "django"))  # the path form by default, the host form with host URLs
        url_headers = {"Host": url.netloc}
        url_path = url.path.rstrip("/") + args.path
        lambkin_conn = lambkin_connection(server)

        async def run() -> None:
            backend = RuncBackend(WORK / "runc-data")
            await backend.cleanup_leftovers()
            anchor = UvicornSandbox(backend, "python-django", memory_mb=MEMORY_MB)
            await anchor.create("benchdjangouvicorn")
            try:
                await anchor.start()
                anchor_conn = http_over(await asyncio.to_thread(anchor.connect))
                direct_call = lambda: get(anchor_conn, args.path, {"Host": "127.0.0.1:8080"})  # noqa: E731
                lambkin_call = lambda: get(lambkin_conn, url_path, url_headers)  # noqa: E731
                for warm in (direct_call, lambkin_call):
                    await asyncio.to_thread(timed, warm, 200)
                for _ in range(args.rounds):
                    direct.extend(await asyncio.to_thread(timed, direct_call, per_round))
                    through.extend(await asyncio.to_thread(timed, lambkin_call, per_round))
            finally:
                await anchor.destroy()

        asyncio.run(run())
    load = os.getloadavg()
    d50, d99 = percentile(direct, 0.5), percentile(direct, 0.99)
    l50, l99 = percentile(through, 0.5), percentile(through, 0.99)
    d_rps, l_rps = 1000 / statistics.mean(direct), 1000 / statistics.mean(through)
    ratio = l50 / d50
    print(
        f"Django GET {args.path}, python-django image, MemorySize {MEMORY_MB} on both sides, "
        f"{len(through)} requests per side in {args.rounds} alternating rounds, one client, keep-alive; "
        f"host load average {load[0]:.2f} on {os.cpu_count()} cores"
    )
    print(f"anchor  uvicorn in runc      : {d_rps:7.0f} req/s  p50 {d50:.3f} ms  p99 {d99:.3f} ms")
    print(f"lambkin function URL (NONE)  : {l_rps:7.0f} req/s  p50 {l50:.3f} ms  p99 {l99:.3f} ms")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio p50 lambkin/uvicorn = {ratio:.2f} (target <= {TARGET_RATIO}) -> {verdict}")
    print(
        json.dumps(
            {
                "bench": "http_django",
                "direct_p50_ms": d50,
                "direct_p99_ms": d99,
                "direct_rps": d_rps,
                "lambkin_p50_ms": l50,
                "lambkin_p99_ms": l99,
                "lambkin_rps": l_rps,
                "ratio": ratio,
                "load_average": load[0],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
