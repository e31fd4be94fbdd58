"""Async invoke: accepted events per second from 8 clients, and the delay from acceptance to the handler's start.

Run: .venv/bin/python -m bench.async_invoke [--clients 8] [--per-client 500] [--samples 200]

A fresh `lambkin server` (subprocess) with the python-handlers image pushed to its registry.
- Throughput: C client threads, each on its own keep-alive connection, POST SigV4-signed Invoke requests with
  X-Amz-Invocation-Type: Event (signed once up front; the server verifies each) to a warm app.echo function.
  Every 202 means the event is committed to <data>/events.db; the dispatcher drains them meanwhile.
  Anchor beside it: the same clients sending the same request as DryRun (the same gateway, SigV4 and resolve,
  without the durable write and the dispatch). Prints both rates and the ratio; then the acceptance rate alone
  on a second server whose dispatcher is held back (LAMBKIN_ASYNC_CONCURRENCY=0: events are stored, not run).
- Latency: one client sends events one at a time (spaced so the environment stays warm and unfrozen) to
  app.log, each printing a unique tag; the handler's start is the time lambkin received that line (the log
  event's timestamp, ms). Delay = handler start - the moment the client read the 202 (acceptance); also
  from the moment the request was sent (an upper bound that includes the commit). Prints p50/p99 (target
  p50 < 5 ms).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import LambkinServer  # noqa: E402

from bench.support import create_function, lambkin_server, percentile  # noqa: E402

TARGET_P50_MS = 5.0


def signed(server: LambkinServer, name: str, body: bytes, invocation_type: str) -> tuple[str, dict[str, str]]:
    """The path and headers of a SigV4-signed Invoke request of this invocation type."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

    path = f"/2015-03-31/functions/{name}/invocations"
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": invocation_type}
    request = AWSRequest("POST", server.endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "lambda", REGION).add_auth(request)
    return path, dict(request.headers.items())


def connection(server: LambkinServer) -> http.client.HTTPConnection:
    host, port = server.endpoint.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=60)


def post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> int:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def rate(server: LambkinServer, name: str, invocation_type: str, clients: int, per_client: int) -> float:
    """Requests per second answered with the expected status, from `clients` threads."""
    body = b'{"bench": true}'
    path, headers = signed(server, name, body, invocation_type)
    expected = 202 if invocation_type == "Event" else 204
    failures: list[int] = []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = connection(server)
        start.wait()
        for _ in range(per_client):
            status = post(conn, path, body, headers)
            if status != expected:
                failures.append(status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{len(failures)} requests failed: {sorted(set(failures))}")
    return clients * per_client / elapsed


def delays(server: LambkinServer, samples: int) -> tuple[list[float], list[float]]:
    """Per event: (handler start - 202 read) and (handler start - request sent), in ms."""
    tags = [uuid.uuid4().hex for _ in range(samples + 5)]
    requests = []
    for tag in tags:
        body = json.dumps({"lines": [f"bench-tag {tag}"]}).encode()
        requests.append((tag, body, *signed(server, "bench-log", body, "Event")))
    conn = connection(server)
    accepted: dict[str, tuple[float, float]] = {}
    for tag, body, path, headers in requests:
        sent = time.time()
        assert post(conn, path, body, headers) == 202
        accepted[tag] = (time.time(), sent)
        time.sleep(0.02)  # warm: well inside the 0.5 s before an idle environment is frozen
    conn.close()
    logs = server.client("logs")
    started: dict[str, int] = {}
    deadline = time.monotonic() + 60
    while len(started) < len(tags) and time.monotonic() < deadline:
        token: dict[str, Any] = {}
        while True:
            page = logs.filter_log_events(logGroupName="/aws/lambda/bench-log", **token)
            for event in page["events"]:
                if "bench-tag " in event["message"]:
                    started[event["message"].split("bench-tag ", 1)[1].strip()] = event["timestamp"]
            if "nextToken" not in page:
                break
            token = {"nextToken": page["nextToken"]}
        time.sleep(0.2)
    measured = tags[5:]  # the first few warm the path up
    after_202 = [started[t] - accepted[t][0] * 1000 for t in measured if t in started]
    after_send = [started[t] - accepted[t][1] * 1000 for t in measured if t in started]
    return after_202, after_send


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=500)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)

    from tests.images import BuiltImages, build_all

    build_all()
    images = BuiltImages()
    with lambkin_server(env={"LAMBKIN_ASYNC_CONCURRENCY": "2"}, name="async") as server:
        uri = images.push("python-handlers", server.registry, tag="v1")
        lam = create_function(server, "bench-echo", uri, ImageConfig={"Command": ["app.echo"]})
        create_function(server, "bench-log", uri, ImageConfig={"Command": ["app.log"]})
        lam.invoke(FunctionName="bench-echo", Payload=b"{}")
        lam.invoke(FunctionName="bench-log", Payload=b'{"lines": []}')
        after_202, after_send = delays(server, args.samples)  # first: no backlog competes for the CPU
        rate(server, "bench-echo", "Event", args.clients, 20)  # warm-up
        time.sleep(1)
        dry_rate = rate(server, "bench-echo", "DryRun", args.clients, args.per_client)  # before any backlog
        event_rate = rate(server, "bench-echo", "Event", args.clients, args.per_client)
        total = args.clients * args.per_client
        print(f"anchor: DryRun invokes/s, {args.clients} clients x {args.per_client}: {dry_rate:,.0f}/s")
        print(
            f"accepted async events/s, same clients, while the dispatcher runs them: {event_rate:,.0f}/s "
            f"(ratio to DryRun {event_rate / dry_rate:.2f})"
        )
    with lambkin_server(env={"LAMBKIN_ASYNC_CONCURRENCY": "0"}, name="async-accept-only") as server:
        uri = images.push("python-handlers", server.registry, tag="v1")
        create_function(server, "bench-echo", uri, ImageConfig={"Command": ["app.echo"]})
        rate(server, "bench-echo", "Event", args.clients, 20)  # warm-up
        dry_only = rate(server, "bench-echo", "DryRun", args.clients, args.per_client)
        accept_only = rate(server, "bench-echo", "Event", args.clients, args.per_client)
        print(
            f"dispatch held back (LAMBKIN_ASYNC_CONCURRENCY=0): accepted {accept_only:,.0f}/s, "
            f"DryRun {dry_only:,.0f}/s (ratio {accept_only / dry_only:.2f}; {total} requests each)"
        )
    if not after_202:
        print("no handler start was observed")
        return 1
    p50 = statistics.median(after_202)
    print(
        f"acceptance (202 read) -> handler start, warm, {len(after_202)} events: "
        f"p50 {p50:.1f} ms, p99 {percentile(after_202, 0.99):.1f} ms (log timestamps are whole ms)"
    )
    print(
        f"request sent -> handler start: p50 {statistics.median(after_send):.1f} ms, "
        f"p99 {percentile(after_send, 0.99):.1f} ms"
    )
    print(f"target p50 < {TARGET_P50_MS:.0f} ms: {'met' if p50 < TARGET_P50_MS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
