"""The Prometheus text of one scrape: the recorder's counts and the facts read at scrape time, as metric
families of the prometheus-client library, rendered by its own exposition."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from lambkin.metrics.recorder import Snapshot
from lambkin.metrics.series import HistogramView, Outcome, Phase

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float  # 0 for an empty queue


@dataclass(frozen=True)
class Gauges:
    """What is true now, read at scrape time (never counted on a hot path)."""

    concurrency: tuple[tuple[str, int], ...] = ()  # (function, invocations in flight here)
    environments: tuple[tuple[str, str, str, int], ...] = ()  # (function, version, state, environments)
    provisioned: tuple[tuple[str, str, int, int], ...] = ()  # (function, version, provisioned, busy)
    queues: tuple[QueueDepth, ...] = ()
    async_events: tuple[tuple[str, int, float], ...] = ()  # (function, events waiting, oldest's age in s)


def render(snapshot: Snapshot, gauges: Gauges) -> bytes:
    """The text exposition format of everything in `snapshot` and `gauges`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(snapshot, gauges))
    return generate_latest(registry)


class _Families(Collector):
    def __init__(self, snapshot: Snapshot, gauges: Gauges) -> None:
        self.snapshot = snapshot
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        yield from self._functions()
        yield from self._gauges()
        batches = CounterMetricFamily(
            "lambkin_event_source_mapping_batches",
            "Batches an event source mapping handed to its function, by how they ended.",
            labels=("uuid", "function", "result"),
        )
        for mapping, function, result, count in self.snapshot.batches:
            batches.add_metric((mapping, function, result), count)
        yield batches
        requests = CounterMetricFamily(
            "lambkin_http_requests",
            "HTTP requests answered, by surface (AWS service or mount) and status.",
            labels=("surface", "status"),
        )
        for surface, status, count in self.snapshot.requests:
            requests.add_metric((surface, str(status)), count)
        yield requests

    def _functions(self) -> Iterator[Metric]:
        fv = ("function", "version")
        invocations = CounterMetricFamily(
            "lambkin_invocations",
            "Invocations by outcome: success, function_error, throttle, timeout, init_failure.",
            labels=(*fv, "outcome"),
        )
        duration = HistogramMetricFamily(
            "lambkin_invocation_duration_seconds",
            "How long invocations ran (from the event handed over to the answer).",
            labels=fv,
        )
        billed = HistogramMetricFamily(
            "lambkin_invocation_billed_duration_seconds",
            "Invocations' durations rounded up to the next millisecond, as Lambda bills them.",
            labels=fv,
        )
        cold = CounterMetricFamily("lambkin_cold_starts", "Environments initialized.", labels=fv)
        phases = HistogramMetricFamily(
            "lambkin_cold_start_phase_seconds",
            "Cold starts' phases: image_resolution, layer_unpack, sandbox_creation, runtime_init.",
            labels=(*fv, "phase"),
        )
        for series in self.snapshot.series:
            labels = (series.function, series.version)
            for outcome in Outcome:
                invocations.add_metric((*labels, outcome.label), series.outcomes[outcome])
            if series.duration.count:
                duration.add_metric(labels, _buckets(series.duration), series.duration.total / 1000)
                billed.add_metric(labels, _buckets(series.duration), series.billed_ms / 1000)
            cold.add_metric(labels, series.cold_starts)
            for phase in Phase:
                view = series.phases[phase]
                if view.count:
                    phases.add_metric((*labels, phase.label), _buckets(view), view.total / 1000)
        yield from (invocations, duration, billed, cold, phases)

    def _gauges(self) -> Iterator[Metric]:
        gauges = self.gauges
        concurrency = GaugeMetricFamily(
            "lambkin_concurrent_executions",
            "Invocations of a function in flight on this node.",
            labels=("function",),
        )
        for function, count in gauges.concurrency:
            concurrency.add_metric((function,), count)
        environments = GaugeMetricFamily(
            "lambkin_environments",
            "Execution environments by state: initializing, idle, frozen, busy.",
            labels=("function", "version", "state"),
        )
        for function, version, state, count in gauges.environments:
            environments.add_metric((function, version, state), count)
        utilization = GaugeMetricFamily(
            "lambkin_provisioned_concurrency_utilization",
            "Busy environments over the provisioned concurrency configured.",
            labels=("function", "version"),
        )
        for function, version, provisioned, busy in gauges.provisioned:
            utilization.add_metric((function, version), busy / provisioned)
        yield from (concurrency, environments, utilization)
        messages = GaugeMetricFamily(
            "lambkin_queue_messages",
            "Messages in a queue by state: visible, in_flight, delayed.",
            labels=("queue", "state"),
        )
        oldest = GaugeMetricFamily(
            "lambkin_queue_oldest_message_age_seconds",
            "Age of the oldest message in a queue (0 when empty).",
            labels=("queue",),
        )
        for depth in gauges.queues:
            messages.add_metric((depth.queue, "visible"), depth.visible)
            messages.add_metric((depth.queue, "in_flight"), depth.in_flight)
            messages.add_metric((depth.queue, "delayed"), depth.delayed)
            oldest.add_metric((depth.queue,), depth.oldest_age_s)
        waiting = GaugeMetricFamily(
            "lambkin_async_events_waiting",
            "Asynchronous invocations accepted and not yet done (first attempts and retries).",
            labels=("function",),
        )
        waiting_age = GaugeMetricFamily(
            "lambkin_async_event_oldest_age_seconds",
            "Age of the oldest asynchronous invocation waiting.",
            labels=("function",),
        )
        for function, count, age_s in gauges.async_events:
            waiting.add_metric((function,), count)
            waiting_age.add_metric((function,), age_s)
        yield from (messages, oldest, waiting, waiting_age)


def _buckets(view: HistogramView) -> list[tuple[str, float]]:
    """Cumulative buckets with their upper bounds in seconds, +Inf last."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip(view.bounds, view.counts, strict=False):
        running += count
        buckets.append((_seconds(bound), running))
    buckets.append(("+Inf", running + view.counts[-1]))
    return buckets


def _seconds(bound_ms: int) -> str:
    return repr(bound_ms / 1000)
