"""/metrics as Prometheus reads it: the text parsed by prometheus-client's own parser, its values checked
against invocations made with boto3 (successes, function errors, throttles, a cold start and its phases),
queue depths, requests by surface, and the series of a deleted function gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.lambda_support import allow_queue_polling, create_active
from tests.harness import LambkinServer, eventually

pytestmark = pytest.mark.runc

TOKEN = "e2e-scrape-token"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    data = Path(tmp_path_factory.mktemp("metrics")) / "data"
    instance = LambkinServer(data, env={"LAMBKIN_METRICS_TOKEN": TOKEN}).start()
    try:
        yield instance
    finally:
        instance.stop()


def scrape(server: LambkinServer) -> Samples:
    response = httpx.get(
        f"{server.endpoint}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names_with(samples: Samples, name: str, **labels: str) -> set[frozenset[tuple[str, str]]]:
    wanted = set(labels.items())
    return {found for sample_name, found in samples if sample_name == name and wanted <= found}


def invoke(lam: Any, name: str) -> dict[str, Any]:
    response: dict[str, Any] = lam.invoke(FunctionName=name, Payload=json.dumps({"n": 1}).encode())
    response["Payload"].read()
    return response


def test_invocations_are_counted_by_outcome_with_their_durations(
    lam: Any, handlers_uri: str, server: LambkinServer
) -> None:
    create_active(lam, "counted-echo", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    create_active(lam, "counted-error", handlers_uri, ImageConfig={"Command": ["app.error"]})
    for _ in range(3):
        assert "FunctionError" not in invoke(lam, "counted-echo")
    for _ in range(2):
        assert invoke(lam, "counted-error")["FunctionError"] == "Unhandled"
    lam.put_function_concurrency(FunctionName="counted-error", ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        invoke(lam, "counted-error")

    samples = scrape(server)
    echo = {"function": "counted-echo", "version": "$LATEST"}
    error = {"function": "counted-error", "version": "$LATEST"}
    assert value(samples, "lambkin_invocations_total", **echo, outcome="success") == 3
    assert value(samples, "lambkin_invocations_total", **echo, outcome="function_error") == 0
    assert value(samples, "lambkin_invocations_total", **error, outcome="function_error") == 2
    assert value(samples, "lambkin_invocations_total", **error, outcome="throttle") == 1
    assert value(samples, "lambkin_invocation_duration_seconds_count", **echo) == 3
    assert value(samples, "lambkin_invocation_billed_duration_seconds_count", **echo) == 3
    duration = value(samples, "lambkin_invocation_duration_seconds_sum", **echo)
    billed = value(samples, "lambkin_invocation_billed_duration_seconds_sum", **echo)
    assert duration is not None and billed is not None and 0 < duration <= billed
    # one cold start, each of its phases observed once
    assert value(samples, "lambkin_cold_starts_total", **echo) == 1
    for phase in ("image_resolution", "layer_unpack", "sandbox_creation", "runtime_init"):
        assert value(samples, "lambkin_cold_start_phase_seconds_count", **echo, phase=phase) == 1, phase
    runtime_init = value(samples, "lambkin_cold_start_phase_seconds_sum", **echo, phase="runtime_init")
    assert runtime_init is not None and runtime_init > 0
    # its one environment is warm now (idle or frozen), none busy; nothing in flight
    warm = sum(
        value(samples, "lambkin_environments", **echo, state=state) or 0 for state in ("idle", "frozen")
    )
    assert warm == 1
    assert value(samples, "lambkin_environments", **echo, state="busy") == 0
    assert value(samples, "lambkin_concurrent_executions", function="counted-echo") == 0
    # the Invokes, by surface and status
    lambda_ok = value(samples, "lambkin_http_requests_total", surface="lambda", status="200")
    assert lambda_ok is not None and lambda_ok >= 5
    assert (value(samples, "lambkin_http_requests_total", surface="lambda", status="429") or 0) >= 1


def test_queue_depths_are_read_at_scrape_time(server: LambkinServer) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="counted-queue")["QueueUrl"]
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    assert (
        len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)["Messages"]) == 1
    )

    samples = scrape(server)
    assert value(samples, "lambkin_queue_messages", queue="counted-queue", state="visible") == 2
    assert value(samples, "lambkin_queue_messages", queue="counted-queue", state="in_flight") == 1
    assert value(samples, "lambkin_queue_messages", queue="counted-queue", state="delayed") == 1
    age = value(samples, "lambkin_queue_oldest_message_age_seconds", queue="counted-queue")
    assert age is not None and age >= 0
    assert (value(samples, "lambkin_http_requests_total", surface="sqs", status="200") or 0) >= 5


def test_a_deleted_functions_series_are_gone(lam: Any, handlers_uri: str, server: LambkinServer) -> None:
    create_active(lam, "counted-gone", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    invoke(lam, "counted-gone")
    assert names_with(scrape(server), "lambkin_invocations_total", function="counted-gone")
    lam.delete_function(FunctionName="counted-gone")
    assert not names_with(scrape(server), "lambkin_invocations_total", function="counted-gone")


def test_mapping_batches_and_waiting_async_events(lam: Any, handlers_uri: str, server: LambkinServer) -> None:
    allow_queue_polling(server.endpoint)
    create_active(lam, "counted-consumer", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="counted-source")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="counted-consumer")["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    batch = {"uuid": uuid, "function": "counted-consumer", "result": "success"}
    eventually(
        lambda: value(scrape(server), "lambkin_event_source_mapping_batches_total", **batch) == 1,
        "the batch counted",
    )

    # an async event stays stored until it is done: a long one is waiting while it runs
    create_active(lam, "counted-held", handlers_uri, ImageConfig={"Command": ["app.timeout"]}, Timeout=60)
    payload = json.dumps({"seconds": 30}).encode()
    assert (
        lam.invoke(FunctionName="counted-held", InvocationType="Event", Payload=payload)["StatusCode"] == 202
    )
    samples = scrape(server)
    assert value(samples, "lambkin_async_events_waiting", function="counted-held") == 1
    age = value(samples, "lambkin_async_event_oldest_age_seconds", function="counted-held")
    assert age is not None and age >= 0
