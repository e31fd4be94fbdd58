"""What metrics cost: the warm invoke p50 with counting on vs off, and rendering /metrics for 1,000 functions.

Run: .venv/bin/python -m bench.metrics [--requests N] [--functions N] [--no-invoke]

- warm invoke: two `lambkin server`s side by side, one with LAMBKIN_METRICS=off (the anchor), one with
  counting on (the default), each running the python-echo image at MemorySize 1769; the same keep-alive
  client alternates rounds between them. Prints each p50/p99 and the ratio on/off (target <= 1.03).
- render: a Recorder holding N function versions (invocations of every outcome, durations, a cold start with
  its four phases) and the scrape-time gauges of N pools and N queues, rendered as /metrics does (snapshot on
  the caller, text by prometheus-client's exposition); the anchor is the same counts held in the library's
  own Counter and Histogram objects, rendered by the same exposition. Prints both times and their ratio,
  the text's size, and its size and the time gzip adds when the scraper accepts it (as Prometheus does).
- the warm path itself: one `Series.invoked` (what an invoke adds) against the library's own
  Counter.inc + Histogram.observe, per call.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import (
    MEMORY_MB,
    create_function,
    creds,
    lambkin_connection,
    lambkin_server,
    percentile,
    post,
    signed_invoke,
    timed,
)
from lambkin.api.metrics_api import GZIP_LEVEL
from lambkin.metrics.exposition import Gauges, QueueDepth, render
from lambkin.metrics.recorder import Recorder
from lambkin.metrics.series import DURATION_BUCKETS_MS, PHASE_BUCKETS_MS, Outcome, Phase

TARGET_RATIO = 1.03


def warm_invoke(requests: int, rounds: int) -> dict[str, float]:
    from tests.images import push

    body = b'{"bench": "metrics"}'
    per_round = max(1, requests // rounds)
    samples: dict[str, list[float]] = {"off": [], "on": []}
    env = {"LAMBKIN_FREEZE_AFTER": "5"}
    with (
        lambkin_server({**env, "LAMBKIN_METRICS": "off"}, name="metrics-off") as off,
        lambkin_server({**env, "LAMBKIN_METRICS_TOKEN": "bench"}, name="metrics-on") as on,
    ):
        calls = {}
        for label, server in (("off", off), ("on", on)):
            uri = push("python-echo", server.registry, creds(), tag="bench")
            lam = create_function(server, "warm", uri, MemorySize=MEMORY_MB)
            lam.invoke(FunctionName="warm", Payload=body)  # cold start, not timed
            path, headers = signed_invoke(server, "warm", body)
            conn = lambkin_connection(server)
            calls[label] = lambda conn=conn, path=path, headers=headers: post(conn, path, body, headers)
            timed(calls[label], 200)
        for _ in range(rounds):
            for label in ("off", "on"):
                samples[label].extend(timed(calls[label], per_round))
    off50, on50 = percentile(samples["off"], 0.5), percentile(samples["on"], 0.5)
    ratio = on50 / off50
    print(f"warm invoke, python-echo, MemorySize {MEMORY_MB}, {len(samples['on'])} requests per server")
    print(
        f"anchor  metrics off : p50 {off50:.3f} ms  p99 {percentile(samples['off'], 0.99):.3f} ms"
        f"  mean {statistics.mean(samples['off']):.3f} ms"
    )
    print(
        f"lambkin metrics on  : p50 {on50:.3f} ms  p99 {percentile(samples['on'], 0.99):.3f} ms"
        f"  mean {statistics.mean(samples['on']):.3f} ms"
    )
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio p50 on/off = {ratio:.3f} (target <= {TARGET_RATIO}) -> {verdict}")
    return {"invoke_off_p50_ms": off50, "invoke_on_p50_ms": on50, "invoke_ratio": ratio}


def filled(functions: int) -> tuple[Recorder, Gauges]:
    """A recorder and gauges as a node with `functions` busy function versions would hold them."""
    recorder = Recorder()
    for index in range(functions):
        name = f"function-{index:04d}"
        series = recorder.series(name, "$LATEST")
        for n in range(20):
            series.invoked(Outcome.SUCCESS if n % 5 else Outcome.FUNCTION_ERROR, 0.5 + n * 7.3)
        series.refused(Outcome.THROTTLE)
        series.cold_start({phase: 40.0 + phase * 60 for phase in Phase})
        recorder.request("lambda", 200)
    gauges = Gauges(
        concurrency=tuple((f"function-{i:04d}", 1) for i in range(0, functions, 10)),
        environments=tuple(
            (f"function-{i:04d}", "$LATEST", state, 1)
            for i in range(functions)
            for state in ("initializing", "idle", "frozen", "busy")
        ),
        queues=tuple(QueueDepth(f"queue-{i:04d}", 10, 2, 1, 3.5) for i in range(functions)),
        async_events=tuple((f"function-{i:04d}", 3, 1.5) for i in range(0, functions, 10)),
    )
    return recorder, gauges


def native(functions: int) -> object:
    """The same counts in prometheus-client's own metric objects (the anchor)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    fv = ["function", "version"]
    invocations = Counter("lambkin_invocations", "", [*fv, "outcome"], registry=registry)
    duration = Histogram(
        "lambkin_invocation_duration_seconds",
        "",
        fv,
        buckets=[b / 1000 for b in DURATION_BUCKETS_MS],
        registry=registry,
    )
    billed = Histogram(
        "lambkin_invocation_billed_duration_seconds",
        "",
        fv,
        buckets=[b / 1000 for b in DURATION_BUCKETS_MS],
        registry=registry,
    )
    cold = Counter("lambkin_cold_starts", "", fv, registry=registry)
    phases = Histogram(
        "lambkin_cold_start_phase_seconds",
        "",
        [*fv, "phase"],
        buckets=[b / 1000 for b in PHASE_BUCKETS_MS],
        registry=registry,
    )
    environments = Gauge("lambkin_environments", "", [*fv, "state"], registry=registry)
    queue = Gauge("lambkin_queue_messages", "", ["queue", "state"], registry=registry)
    oldest = Gauge("lambkin_queue_oldest_message_age_seconds", "", ["queue"], registry=registry)
    for index in range(functions):
        labels = (f"function-{index:04d}", "$LATEST")
        for outcome in Outcome:
            invocations.labels(*labels, outcome.label).inc(0)
        for n in range(20):
            duration.labels(*labels).observe((0.5 + n * 7.3) / 1000)
            billed.labels(*labels).observe((1 + n * 7.3) / 1000)
        cold.labels(*labels).inc()
        for phase in Phase:
            phases.labels(*labels, phase.label).observe((40.0 + phase * 60) / 1000)
        for state in ("initializing", "idle", "frozen", "busy"):
            environments.labels(*labels, state).set(1)
        for state in ("visible", "in_flight", "delayed"):
            queue.labels(f"queue-{index:04d}", state).set(1)
        oldest.labels(f"queue-{index:04d}").set(3.5)
    return registry


def best_of(fn: object, times: int) -> float:
    assert callable(fn)
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples)


def rendering(functions: int) -> dict[str, float]:
    from prometheus_client import generate_latest

    recorder, gauges = filled(functions)
    registry = native(functions)
    ours_text = render(recorder.snapshot(), gauges)
    ours = best_of(lambda: render(recorder.snapshot(), gauges), 5)
    snapshot = best_of(recorder.snapshot, 5)
    anchor = best_of(lambda: generate_latest(registry), 5)  # type: ignore[arg-type]
    print(f"/metrics with {functions} function versions and {functions} queues ({len(ours_text)} bytes)")
    print(f"anchor  prometheus-client's own objects : {anchor:.1f} ms")
    print(
        f"lambkin snapshot + render               : {ours:.1f} ms  (snapshot alone, on the loop: {snapshot:.1f} ms)"
    )
    print(f"ratio render lambkin/library = {ours / anchor:.2f}")
    gzipped = gzip.compress(ours_text, GZIP_LEVEL)
    gzip_ms = best_of(lambda: gzip.compress(ours_text, GZIP_LEVEL), 5)
    print(f"gzipped for a scraper that accepts it (Prometheus): {len(gzipped)} bytes, {gzip_ms:.1f} ms more")
    return {
        "render_ms": ours,
        "snapshot_ms": snapshot,
        "render_anchor_ms": anchor,
        "text_bytes": len(ours_text),
        "gzip_bytes": len(gzipped),
        "gzip_ms": gzip_ms,
    }


def warm_path(calls: int = 200_000) -> dict[str, float]:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    series = Recorder().series("f", "$LATEST")
    registry = CollectorRegistry()
    counter = Counter("c", "", registry=registry)
    histogram = Histogram("h", "", buckets=[b / 1000 for b in DURATION_BUCKETS_MS], registry=registry)

    def ours() -> None:
        for _ in range(calls):
            series.invoked(Outcome.SUCCESS, 3.7)

    def library() -> None:
        for _ in range(calls):
            counter.inc()
            histogram.observe(0.0037)

    ours_ns = best_of(ours, 3) * 1e6 / calls
    anchor_ns = best_of(library, 3) * 1e6 / calls
    print(
        f"per invoke: Series.invoked {ours_ns:.0f} ns, library Counter.inc + Histogram.observe {anchor_ns:.0f} ns"
    )
    return {"invoked_ns": ours_ns, "invoked_anchor_ns": anchor_ns}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.metrics")
    parser.add_argument("--requests", type=int, default=2000, help="timed warm invokes per server")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--functions", type=int, default=1000, help="function versions in the render")
    parser.add_argument("--no-invoke", action="store_true", help="skip the servers (no runc needed)")
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    figures.update(rendering(args.functions))
    figures.update(warm_path())
    if not args.no_invoke:
        figures.update(warm_invoke(args.requests, args.rounds))
    print(json.dumps({"bench": "metrics", **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
