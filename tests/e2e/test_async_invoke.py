"""Async invoke end to end: boto3 against `lambkin server`, real images in runc, destinations read with boto3 sqs."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import allow_destinations, create_active
from tests.harness import LambkinServer

pytestmark = pytest.mark.runc

SCALE = 0.01  # retry back-offs of 0.6 s and 1.2 s; a MaximumEventAgeInSeconds of 60 lasts 0.6 s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    instance = LambkinServer(
        Path(tmp_path_factory.mktemp("async")) / "data",
        env={"LAMBKIN_ASYNC_RETRY_SCALE": str(SCALE), "LAMBKIN_ASYNC_CONCURRENCY": "4"},
    ).start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module", autouse=True)
def destinations_allowed(server: LambkinServer) -> None:
    """Lambda delivers records and dead letters with the function's role: the test role may send and invoke."""
    allow_destinations(server.endpoint)


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs: Any, url: str, count: int = 1, limit_s: float = 60.0) -> list[dict[str, Any]]:
    """Waits (long polls) for `count` messages and deletes them."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_s
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2, MessageAttributeNames=["All"]
        )
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) >= count, f"only {len(got)} of {count} messages arrived"
    return got


def send(lam: Any, name: str, event: object) -> str:
    response = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id: str = response["ResponseMetadata"]["RequestId"]
    return request_id


def test_success_goes_to_a_queue_in_lambdas_record_shape(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "ok-records")
    created = create_active(lam, "async-echo", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-echo", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    request_id = send(lam, "async-echo", {"hello": "async"})
    (message,) = receive(sqs, url)
    record = json.loads(message["Body"])
    assert set(record) == {
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    }
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": created["FunctionArn"] + ":$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"hello": "async"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"hello": "async"}


def test_function_errors_are_retried_twice_with_backoff_then_fail(
    lam: Any, sqs: Any, handlers_uri: str
) -> None:
    url, arn = queue(sqs, "failures")
    create_active(lam, "async-error", handlers_uri, ImageConfig={"Command": ["app.error"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-error", DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    started = time.time()
    request_id = send(lam, "async-error", {"message": "boom"})
    (message,) = receive(sqs, url)
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "boom"
    # Lambda's back-off, scaled: 1 minute before the 2nd attempt, 2 before the 3rd (a lower bound only).
    delivered = dt.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert delivered.timestamp() + 0.01 >= started + (60 + 120) * SCALE


def test_maximum_retry_attempts_zero_fails_after_one_attempt(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "no-retries")
    create_active(lam, "async-error-once", handlers_uri, ImageConfig={"Command": ["app.error"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-error-once",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    send(lam, "async-error-once", {"message": "once"})
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_an_event_past_its_maximum_age_goes_to_the_failure_path(
    lam: Any, sqs: Any, handlers_uri: str
) -> None:
    url, arn = queue(sqs, "too-old")
    create_active(lam, "async-error-aged", handlers_uri, ImageConfig={"Command": ["app.error"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-error-aged",
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    send(lam, "async-error-aged", {"message": "late"})
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_dead_letter_queue_gets_the_event_with_its_error(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "dlq")
    create_active(
        lam,
        "async-dlq",
        handlers_uri,
        ImageConfig={"Command": ["app.error"]},
        DeadLetterConfig={"TargetArn": arn},
    )
    lam.put_function_event_invoke_config(FunctionName="async-dlq", MaximumRetryAttempts=0)
    request_id = send(lam, "async-dlq", {"message": "to the dlq"})
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"]) == {"message": "to the dlq"}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "to the dlq"}


def test_a_function_destination_is_invoked_with_the_record(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "chain-end")
    second = create_active(lam, "async-second", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    create_active(lam, "async-first", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-first", DestinationConfig={"OnSuccess": {"Destination": second["FunctionArn"]}}
    )
    lam.put_function_event_invoke_config(
        FunctionName="async-second", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    request_id = send(lam, "async-first", {"step": 1})
    record = json.loads(receive(sqs, url)[0]["Body"])
    first_record = record["requestPayload"]
    assert first_record["requestContext"]["requestId"] == request_id
    assert first_record["responsePayload"] == {"step": 1}
    assert record["responsePayload"] == first_record
    assert record["requestContext"]["functionArn"] == second["FunctionArn"] + ":$LATEST"


def test_throttled_events_wait_and_are_all_delivered(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "throttled")
    create_active(lam, "async-slow", handlers_uri, ImageConfig={"Command": ["app.timeout"]}, Timeout=10)
    lam.put_function_concurrency(FunctionName="async-slow", ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(
        FunctionName="async-slow", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    sent = {send(lam, "async-slow", {"seconds": 0.3}) for _ in range(6)}
    records = [json.loads(m["Body"]) for m in receive(sqs, url, count=6)]
    assert {r["requestContext"]["requestId"] for r in records} == sent
    assert {r["requestContext"]["condition"] for r in records} == {"Success"}


def test_zero_reserved_concurrency_sends_events_to_the_failure_path(
    lam: Any, sqs: Any, handlers_uri: str
) -> None:
    url, arn = queue(sqs, "zero")
    create_active(lam, "async-zero", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_concurrency(FunctionName="async-zero", ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName="async-zero", DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    request_id = send(lam, "async-zero", {"z": 0})
    record = json.loads(receive(sqs, url)[0]["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record and "responsePayload" not in record


def test_events_of_a_deleted_function_are_dropped(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "after-delete")
    create_active(lam, "async-doomed", handlers_uri, ImageConfig={"Command": ["app.timeout"]}, Timeout=10)
    lam.put_function_concurrency(FunctionName="async-doomed", ReservedConcurrentExecutions=1)
    lam.put_function_event_invoke_config(
        FunctionName="async-doomed", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    for _ in range(3):
        send(lam, "async-doomed", {"seconds": 1})
    lam.delete_function(FunctionName="async-doomed")
    # The queue is still served: a live function's event goes through while the dead one's are dropped.
    canary_url, canary_arn = queue(sqs, "canary")
    create_active(lam, "async-canary", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-canary", DestinationConfig={"OnSuccess": {"Destination": canary_arn}}
    )
    canary = send(lam, "async-canary", {})
    assert json.loads(receive(sqs, canary_url)[0]["Body"])["requestContext"]["requestId"] == canary
    late = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(late) <= 1  # at most the one already running when the function was deleted


def test_payload_limits_and_invoke_async(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = queue(sqs, "legacy")
    create_active(lam, "async-legacy", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-legacy", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    big = json.dumps({"pad": "x" * 1_048_576}).encode()
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="async-legacy", InvocationType="Event", Payload=big)
    assert caught.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    fits = json.dumps({"pad": "x" * 1_000_000}).encode()
    assert lam.invoke(FunctionName="async-legacy", InvocationType="Event", Payload=fits)["StatusCode"] == 202
    assert lam.invoke_async(FunctionName="async-legacy", InvokeArgs=b'{"legacy": true}')["Status"] == 202
    with pytest.raises(ClientError) as caught:
        lam.invoke_async(FunctionName="async-legacy", InvokeArgs=json.dumps({"pad": "x" * 262_144}).encode())
    assert caught.value.response["Error"]["Code"] == "RequestTooLargeException"
    # The 1 MB event's record (event and response, 2 MB) is past the queue's message size: dropped, as Lambda
    # drops a record its destination refuses. The small one arrives.
    payloads = [json.loads(m["Body"])["requestPayload"] for m in receive(sqs, url, count=1)]
    assert payloads == [{"legacy": True}]


def test_event_invoke_config_operations(lam: Any, sqs: Any, handlers_uri: str, server: LambkinServer) -> None:
    _, arn = queue(sqs, "config-target")
    created = create_active(lam, "async-config", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.publish_version(FunctionName="async-config")
    put = lam.put_function_event_invoke_config(FunctionName="async-config", MaximumRetryAttempts=1)
    assert put["FunctionArn"] == created["FunctionArn"] + ":$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    updated = lam.update_function_event_invoke_config(
        FunctionName="async-config", DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": arn}
    replaced = lam.put_function_event_invoke_config(FunctionName="async-config", MaximumEventAgeInSeconds=120)
    assert "MaximumRetryAttempts" not in replaced and replaced["MaximumEventAgeInSeconds"] == 120
    lam.put_function_event_invoke_config(FunctionName="async-config", Qualifier="1", MaximumRetryAttempts=0)
    got = lam.get_function_event_invoke_config(FunctionName="async-config", Qualifier="1")
    assert got["FunctionArn"] == created["FunctionArn"] + ":1" and got["MaximumRetryAttempts"] == 0
    listed = lam.list_function_event_invoke_configs(FunctionName="async-config")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["$LATEST", "1"]
    first = lam.list_function_event_invoke_configs(FunctionName="async-config", MaxItems=1)
    assert len(first["FunctionEventInvokeConfigs"]) == 1 and "NextMarker" in first
    lam.delete_function_event_invoke_config(FunctionName="async-config", Qualifier="1")
    # protocol/serialize.py answers a 204 with a "{}" body, which breaks the next response on that
    # connection (reported to its owner): carry on with a fresh client.
    lam = server.client("lambda", config=Config(retries={"max_attempts": 0}))
    for call, kwargs, code in [
        (lam.get_function_event_invoke_config, {"Qualifier": "1"}, "ResourceNotFoundException"),
        (
            lam.update_function_event_invoke_config,
            {"Qualifier": "1", "MaximumRetryAttempts": 1},
            "ResourceNotFoundException",
        ),
        (
            lam.put_function_event_invoke_config,
            {"Qualifier": "7", "MaximumRetryAttempts": 1},
            "ResourceNotFoundException",
        ),
        (lam.put_function_event_invoke_config, {"MaximumRetryAttempts": 3}, "ValidationException"),
        (lam.put_function_event_invoke_config, {"MaximumEventAgeInSeconds": 21_601}, "ValidationException"),
        (lam.put_function_event_invoke_config, {}, "InvalidParameterValueException"),
        (
            lam.put_function_event_invoke_config,
            {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:000000000000:topic"}}},
            "InvalidParameterValueException",
        ),
        (
            lam.put_function_event_invoke_config,
            {
                "DestinationConfig": {
                    "OnSuccess": {"Destination": "arn:aws:events:us-east-1:000000000000:event-bus/default"}
                }
            },
            "InvalidParameterValueException",
        ),
        (
            lam.put_function_event_invoke_config,
            {"DestinationConfig": {"OnSuccess": {"Destination": created["FunctionArn"]}}},
            "InvalidParameterValueException",
        ),
    ]:
        with pytest.raises(ClientError) as caught:
            call(FunctionName="async-config", **kwargs)
        assert caught.value.response["Error"]["Code"] == code, kwargs


def test_a_function_created_again_starts_without_the_old_config(
    lam: Any, sqs: Any, handlers_uri: str
) -> None:
    _, arn = queue(sqs, "old-target")
    create_active(lam, "async-reborn", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="async-reborn", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    lam.delete_function(FunctionName="async-reborn")
    create_active(lam, "async-reborn", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    with pytest.raises(ClientError) as caught:
        lam.get_function_event_invoke_config(FunctionName="async-reborn")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
