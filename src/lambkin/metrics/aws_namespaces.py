"""AWS/Lambda and AWS/SQS in CloudWatch, read from what lambkin already counts: every SAMPLE_S the recorder's
counts since the last look become the minute's Invocations, Errors, Throttles and Duration (per function,
per function and version as `Resource`, and account-wide), and ConcurrentExecutions and each queue's depths
are sampled (their Maximum and Average are what CloudWatch's users read). Nothing is added to a hot path
but the queues' own counters (an integer add per request), taken here as NumberOfMessagesSent, -Received,
-Deleted, NumberOfEmptyReceives and SentMessageSize (exact: every message's size is in its minimum, maximum
and sum).

Duration's Minimum and Maximum come from the histogram's buckets, so they are bounds, not exact values; its
Sum, SampleCount and Average are exact.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from lambkin.metrics.minutes import Aggregate, Metric, MetricMinutes
from lambkin.metrics.recorder import Recorder
from lambkin.metrics.series import HistogramView, Outcome, SeriesView

SAMPLE_S = 10.0
LAMBDA = "AWS/Lambda"
SQS = "AWS/SQS"

Depths = Callable[[], Awaitable[list[tuple[str, int, int, int, float]]]]  # QueueService.depths


class QueueCounts(Protocol):
    """One queue's counts since the last look (queues.activity.QueueActivity)."""

    sent: int
    sent_bytes: int
    smallest: int
    largest: int
    received: int
    deleted: int
    empty_receives: int


Activity = Callable[[], Mapping[str, QueueCounts]]  # QueueActivities.take

log = logging.getLogger("lambkin.metrics")


class AwsNamespaces:
    def __init__(
        self,
        recorder: Recorder,
        minutes: MetricMinutes,
        concurrency: Callable[[], Mapping[str, int]],
        depths: Depths,
        activity: Activity | None = None,
    ) -> None:
        self.recorder = recorder
        self.minutes = minutes
        self.concurrency = concurrency
        self.depths = depths
        self.activity = activity
        self._seen: dict[tuple[str, str], SeriesView] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_S)
            try:
                await self.sample()
            except Exception:
                log.exception("metrics: sampling AWS/Lambda and AWS/SQS failed; trying again")

    async def sample(self) -> None:
        """One look: the counts since the last, the concurrency and queue depths now."""
        for view in self.recorder.snapshot().series:
            key = (view.function, view.version)
            before = self._seen.get(key)
            self._seen[key] = view
            self._invocations(view, before)
        in_flight = self.concurrency()
        for function, count in in_flight.items():
            self._record("ConcurrentExecutions", _function(function), Aggregate.of(float(count)), "Count")
        self._record("ConcurrentExecutions", (), Aggregate.of(float(sum(in_flight.values()))), "Count")
        for name, visible, in_flight_messages, delayed, oldest_s in await self.depths():
            queue = (("QueueName", name),)
            for metric, value, unit in (
                ("ApproximateNumberOfMessagesVisible", visible, "Count"),
                ("ApproximateNumberOfMessagesNotVisible", in_flight_messages, "Count"),
                ("ApproximateNumberOfMessagesDelayed", delayed, "Count"),
                ("ApproximateAgeOfOldestMessage", int(oldest_s), "Seconds"),
            ):
                self.minutes.record(Metric(SQS, metric, queue, unit), float(value))
        if self.activity is not None:
            for name, counts in self.activity().items():
                self._queue_activity(name, counts)

    def _queue_activity(self, name: str, counts: QueueCounts) -> None:
        """A queue's counters as AWS reports an active queue's: every one, zeros too."""
        queue = (("QueueName", name),)
        for metric, count in (
            ("NumberOfMessagesSent", counts.sent),
            ("NumberOfMessagesReceived", counts.received),
            ("NumberOfMessagesDeleted", counts.deleted),
            ("NumberOfEmptyReceives", counts.empty_receives),
        ):
            self.minutes.record(Metric(SQS, metric, queue, "Count"), float(count))
        if counts.sent:  # emitted only once a message was sent
            size = Aggregate(
                float(counts.sent), float(counts.sent_bytes), float(counts.smallest), float(counts.largest)
            )
            self.minutes.fold(Metric(SQS, "SentMessageSize", queue, "Bytes"), size)

    def _invocations(self, view: SeriesView, before: SeriesView | None) -> None:
        outcomes = [n - (before.outcomes[i] if before else 0) for i, n in enumerate(view.outcomes)]
        ran = outcomes[Outcome.SUCCESS] + outcomes[Outcome.FUNCTION_ERROR] + outcomes[Outcome.TIMEOUT]
        ran += outcomes[Outcome.INIT_FAILURE]
        errors = outcomes[Outcome.FUNCTION_ERROR] + outcomes[Outcome.TIMEOUT] + outcomes[Outcome.INIT_FAILURE]
        resource = view.function if view.version == "$LATEST" else f"{view.function}:{view.version}"
        for dimensions in (_function(view.function), (*_function(view.function), ("Resource", resource)), ()):
            for metric, count in (
                ("Invocations", ran),
                ("Errors", errors),
                ("Throttles", outcomes[Outcome.THROTTLE]),
            ):
                if count > 0:  # each invocation is a datapoint of 1, as Lambda emits them
                    self._record(metric, dimensions, Aggregate(count, count, 1.0, 1.0), "Count")
            duration = _since(view.duration, before.duration if before else None)
            if duration is not None:
                self._record("Duration", dimensions, duration, "Milliseconds")

    def _record(
        self, metric: str, dimensions: tuple[tuple[str, str], ...], value: Aggregate, unit: str
    ) -> None:
        self.minutes.fold(Metric(LAMBDA, metric, tuple(sorted(dimensions)), unit), value)


def _function(name: str) -> tuple[tuple[str, str], ...]:
    return (("FunctionName", name),)


def _since(now: HistogramView, before: HistogramView | None) -> Aggregate | None:
    """The observations added between two copies of a histogram: exact count and sum, bounded min and max."""
    counts = [n - (before.counts[i] if before else 0) for i, n in enumerate(now.counts)]
    count = sum(counts)
    if count <= 0:
        return None
    total = now.total - (before.total if before else 0.0)
    bounds = (0, *now.bounds)
    first = next(i for i, n in enumerate(counts) if n)
    last = max(i for i, n in enumerate(counts) if n)
    low = float(bounds[first])  # bucket i holds what is above bound i-1, up to bound i
    high = float(now.bounds[last]) if last < len(now.bounds) else max(total / count, float(now.bounds[-1]))
    mean = total / count
    return Aggregate(float(count), total, min(low, mean), max(high, mean))
