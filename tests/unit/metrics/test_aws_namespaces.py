"""AWS/Lambda's counts are the recorder's since the last look; Duration's bounds come from its buckets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lambkin.config import Settings
from lambkin.metrics.aws_namespaces import AwsNamespaces, _since
from lambkin.metrics.minutes import MIGRATIONS, Metric, MetricMinutes
from lambkin.metrics.recorder import Recorder
from lambkin.metrics.series import DURATION_BUCKETS_MS, HistogramView, Outcome
from lambkin.queues.activity import QueueActivities
from lambkin.store import open_store


def test_the_observations_between_two_copies_of_a_histogram() -> None:
    bounds = (1, 10, 100)
    before = HistogramView(bounds, (1, 0, 0, 0), 0.5)
    now = HistogramView(bounds, (1, 2, 1, 0), 0.5 + 5 + 7 + 50)
    since = _since(now, before)
    assert since is not None
    assert (since.samples, since.total) == (3, 62)
    assert (since.minimum, since.maximum) == (1, 100)  # the lowest bucket's floor, the highest one's ceiling
    assert _since(now, now) is None


def test_only_what_happened_since_the_last_look_is_recorded(tmp_path: Path) -> None:
    async def run() -> list[float]:
        db = open_store(Settings(data_dir=tmp_path), "metrics")
        db.migrate(MIGRATIONS)
        minutes = MetricMinutes(db, 86400)
        recorder = Recorder()
        series = recorder.series("fn", "$LATEST")
        sampler = AwsNamespaces(recorder, minutes, dict, _no_queues)
        series.invoked(Outcome.SUCCESS, 3.0)
        series.invoked(Outcome.FUNCTION_ERROR, 4.0)
        await sampler.sample()
        series.invoked(Outcome.SUCCESS, 5.0)
        await sampler.sample()
        await sampler.sample()  # nothing new: nothing recorded
        metric = Metric("AWS/Lambda", "Invocations", (("FunctionName", "fn"),), "Count")
        buckets = await minutes.buckets(metric, 0, 2**40, 2**40, any_unit=False)
        errors = Metric("AWS/Lambda", "Errors", (("FunctionName", "fn"),), "Count")
        failed = await minutes.buckets(errors, 0, 2**40, 2**40, any_unit=False)
        db.close()
        return [sum(b.value.total for b in buckets), sum(b.value.total for b in failed)]

    assert asyncio.run(run()) == [3.0, 1.0]
    assert DURATION_BUCKETS_MS[0] == 1


async def _no_queues() -> list[tuple[str, int, int, int, float]]:
    return []


def test_queue_counters_become_aws_sqs_metrics(tmp_path: Path) -> None:
    activity = QueueActivities()
    counts = activity.of("jobs")
    for size in (10, 30, 20):
        counts.sent_one(size)
    counts.answered(2)
    counts.answered(0)
    counts.deleted += 2

    async def run() -> dict[str, tuple[float, float, float, float]]:
        db = open_store(Settings(data_dir=tmp_path), "metrics")
        db.migrate(MIGRATIONS)
        minutes = MetricMinutes(db, 86400)
        sampler = AwsNamespaces(Recorder(), minutes, dict, _no_queues, activity.take)
        await sampler.sample()
        await sampler.sample()  # taken already: nothing more to record
        found = {}
        for metric in await minutes.metrics("AWS/SQS", None, 0):
            [bucket] = await minutes.buckets(metric, 0, 2**40, 2**40, any_unit=True)
            value = bucket.value
            found[f"{metric.metric} {bucket.unit}"] = (
                value.samples,
                value.total,
                value.minimum,
                value.maximum,
            )
            assert metric.dimensions == (("QueueName", "jobs"),)
        db.close()
        return found

    assert asyncio.run(run()) == {
        "NumberOfEmptyReceives Count": (1, 1, 1, 1),
        "NumberOfMessagesDeleted Count": (1, 2, 2, 2),
        "NumberOfMessagesReceived Count": (1, 2, 2, 2),
        "NumberOfMessagesSent Count": (1, 3, 3, 3),
        "SentMessageSize Bytes": (3, 60, 10, 30),
    }
