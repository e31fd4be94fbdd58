"""The recorder's counts as Prometheus reads them: rendered, then parsed by prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lambkin.metrics.exposition import Gauges, QueueDepth, render
from lambkin.metrics.recorder import BatchResult, Recorder
from lambkin.metrics.series import Outcome, Phase

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


NOTHING = Gauges()


def parsed(recorder: Recorder, gauges: Gauges = NOTHING) -> Samples:
    text = render(recorder.snapshot(), gauges).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def at(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_outcomes_and_durations_of_one_version() -> None:
    recorder = Recorder()
    series = recorder.series("fn", "1")
    series.invoked(Outcome.SUCCESS, 3.2)
    series.invoked(Outcome.SUCCESS, 40.0)
    series.invoked(Outcome.TIMEOUT, 3000.0)
    series.refused(Outcome.THROTTLE)
    samples = parsed(recorder)
    fv = {"function": "fn", "version": "1"}
    assert at(samples, "lambkin_invocations_total", **fv, outcome="success") == 2
    assert at(samples, "lambkin_invocations_total", **fv, outcome="timeout") == 1
    assert at(samples, "lambkin_invocations_total", **fv, outcome="throttle") == 1
    assert at(samples, "lambkin_invocations_total", **fv, outcome="init_failure") == 0
    assert at(samples, "lambkin_invocation_duration_seconds_count", **fv) == 3  # a throttle ran nothing
    assert at(samples, "lambkin_invocation_duration_seconds_bucket", **fv, le="0.005") == 1
    assert at(samples, "lambkin_invocation_duration_seconds_bucket", **fv, le="0.05") == 2
    assert at(samples, "lambkin_invocation_duration_seconds_bucket", **fv, le="+Inf") == 3
    assert at(samples, "lambkin_invocation_duration_seconds_sum", **fv) == (3.2 + 40.0 + 3000.0) / 1000
    # billed: each duration rounded up to the millisecond, in the same buckets
    assert at(samples, "lambkin_invocation_billed_duration_seconds_sum", **fv) == (4 + 40 + 3000) / 1000
    assert at(samples, "lambkin_invocation_billed_duration_seconds_bucket", **fv, le="0.005") == 1


def test_a_cold_starts_phases_are_histograms_of_their_own() -> None:
    recorder = Recorder()
    recorder.series("fn", "$LATEST").cold_start({Phase.SANDBOX_CREATION: 120.0, Phase.RUNTIME_INIT: 800.0})
    samples = parsed(recorder)
    fv = {"function": "fn", "version": "$LATEST"}
    assert at(samples, "lambkin_cold_starts_total", **fv) == 1
    assert at(samples, "lambkin_cold_start_phase_seconds_count", **fv, phase="sandbox_creation") == 1
    assert at(samples, "lambkin_cold_start_phase_seconds_sum", **fv, phase="runtime_init") == 0.8
    # a phase served from a cache (the image was held) is not observed
    assert at(samples, "lambkin_cold_start_phase_seconds_count", **fv, phase="layer_unpack") is None


def test_deleted_versions_and_mappings_are_dropped() -> None:
    recorder = Recorder()
    recorder.series("kept", "$LATEST").invoked(Outcome.SUCCESS, 1.0)
    recorder.series("kept", "3").invoked(Outcome.SUCCESS, 1.0)
    recorder.series("gone", "$LATEST").invoked(Outcome.SUCCESS, 1.0)
    recorder.batch("uuid-1", "kept", BatchResult.PARTIAL)
    recorder.batch("uuid-2", "gone", BatchResult.SUCCESS)
    recorder.retain({("kept", "$LATEST")}, {"uuid-1"})
    samples = parsed(recorder)
    names = {dict(labels).get("function") for name, labels in samples if name == "lambkin_invocations_total"}
    assert names == {"kept"}
    assert at(samples, "lambkin_invocations_total", function="kept", version="3", outcome="success") is None
    assert (
        at(
            samples,
            "lambkin_event_source_mapping_batches_total",
            uuid="uuid-1",
            function="kept",
            result="partial",
        )
        == 1
    )
    assert not [name for name, labels in samples if ("uuid", "uuid-2") in labels]


def test_requests_and_gauges() -> None:
    recorder = Recorder()
    recorder.request("lambda", 200)
    recorder.request("lambda", 200)
    recorder.request("sqs", 400)
    gauges = Gauges(
        concurrency=(("fn", 2),),
        environments=(("fn", "$LATEST", "busy", 2), ("fn", "$LATEST", "frozen", 1)),
        provisioned=(("fn", "1", 4, 1),),
        queues=(QueueDepth("q", 5, 2, 1, 30.0),),
        async_events=(("fn", 3, 12.5),),
    )
    samples = parsed(recorder, gauges)
    assert at(samples, "lambkin_http_requests_total", surface="lambda", status="200") == 2
    assert at(samples, "lambkin_http_requests_total", surface="sqs", status="400") == 1
    assert at(samples, "lambkin_concurrent_executions", function="fn") == 2
    assert at(samples, "lambkin_environments", function="fn", version="$LATEST", state="frozen") == 1
    assert at(samples, "lambkin_provisioned_concurrency_utilization", function="fn", version="1") == 0.25
    assert at(samples, "lambkin_queue_messages", queue="q", state="in_flight") == 2
    assert at(samples, "lambkin_queue_oldest_message_age_seconds", queue="q") == 30.0
    assert at(samples, "lambkin_async_events_waiting", function="fn") == 3
    assert at(samples, "lambkin_async_event_oldest_age_seconds", function="fn") == 12.5
