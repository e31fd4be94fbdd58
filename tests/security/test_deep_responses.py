"""A function's response nested 100,000 deep never breaks what reads it: function URLs answer Lambda's 502,
a queue's poller counts the batch as failed and goes on, an async destination receives the record."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.config import Config

from lambkin.events.http.alb import map_alb
from lambkin.events.http.request import MalformedResponse
from lambkin.events.http.v1 import map_v1
from lambkin.events.http.v2 import map_v2
from lambkin.events.sqs_records import failed_items
from tests.e2e.lambda_support import allow_destinations, allow_queue_polling, create_active, public_url
from tests.harness import LambkinServer
from tests.images import BuiltImages

DEPTH = 100_000
DEEP_ARRAY = b"[" * DEPTH + b"]" * DEPTH
DEEP_OBJECT = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH

# A custom runtime that answers every event with DEEP_OBJECT if the event says "object", else DEEP_ARRAY; as
# an error (with an X-Ray error cause's content type) if it says "error".
DEEP_RUNTIME = f"""
import http.client, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
array = b"[" * {DEPTH} + b"]" * {DEPTH}
whole = b'{{"a":' * {DEPTH} + b"1" + b"}}" * {DEPTH}
runtime = http.client.HTTPConnection(host, int(port))
while True:
    runtime.request("GET", "/2018-06-01/runtime/invocation/next")
    asked = runtime.getresponse()
    event = asked.read()
    request_id = asked.getheader("Lambda-Runtime-Aws-Request-Id")
    body = whole if b"object" in event else array
    if b"error" in event:
        cause = {{"Content-Type": "application/vnd.aws.lambda.error.cause+json"}}
        runtime.request("POST", f"/2018-06-01/runtime/invocation/{{request_id}}/error", body=body, headers=cause)
    else:
        runtime.request("POST", f"/2018-06-01/runtime/invocation/{{request_id}}/response", body=body)
    runtime.getresponse().read()
"""


# The mappings of every front door and the batch response reader, each on its own.
@pytest.mark.parametrize("payload", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(
    "mapping",
    [map_v2, map_v1, lambda payload: map_alb(payload, False)],
    ids=["payload-2.0", "payload-1.0", "alb"],
)
def test_a_deep_result_is_a_malformed_response(mapping: Callable[[bytes], Any], payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        mapping(payload)


@pytest.mark.parametrize("payload", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_a_deep_batch_response_fails_the_whole_batch(payload: bytes) -> None:
    assert failed_items(payload, ["m1", "m2"], fifo=False) is None


# The same, end to end: a real function whose responses are that deep.
@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


@pytest.fixture(scope="module")
def deep(lam: Any, server: LambkinServer, test_images: BuiltImages) -> str:
    allow_destinations(server.endpoint)
    allow_queue_polling(server.endpoint)
    image = test_images.push("python-handlers", server.registry, tag="v1")
    entry = ["/usr/bin/python3", "-c", DEEP_RUNTIME]
    create_active(lam, "deep-responses", image, ImageConfig={"EntryPoint": entry, "Command": []})
    return "deep-responses"


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs: Any, url: str, what: str) -> list[dict[str, Any]]:
    """Long polls `url` until something arrives (a deadline for a stuck run, not a timing assertion)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", [])
        if got:
            return got
    raise AssertionError(f"never happened: {what}")


@pytest.fixture(scope="module")
def deep_url(lam: Any, deep: str) -> str:
    return public_url(lam, deep)


@pytest.mark.runc
@pytest.mark.parametrize("shape", ["array", "object"])
def test_a_function_url_answers_502_for_a_deep_response(
    server: LambkinServer, deep_url: str, shape: str
) -> None:
    answer = httpx.get(f"{deep_url}?{shape}", timeout=120)  # the URL as lambkin returned it
    assert answer.status_code == 502
    assert answer.text == "Internal Server Error"
    # and the server goes on answering
    assert httpx.get(f"{deep_url}?{shape}", timeout=120).status_code == 502


@pytest.mark.runc
def test_a_deep_batch_response_fails_the_batch_and_the_poller_goes_on(
    server: LambkinServer, lam: Any, sqs: Any, deep: str
) -> None:
    dlq_url, dlq_arn = queue(sqs, "deep-dlq")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    url, arn = queue(sqs, "deep-batches", VisibilityTimeout="3", RedrivePolicy=policy)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=deep, BatchSize=1, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    sqs.send_message(QueueUrl=url, MessageBody="first")
    # The batch failed (its response cannot be read), came back, and its second receive moved it on.
    assert [m["Body"] for m in receive(sqs, dlq_url, "the first message in the DLQ")] == ["first"]
    sqs.send_message(QueueUrl=url, MessageBody="second")
    assert "second" in [m["Body"] for m in receive(sqs, dlq_url, "the poller still polling")]
    assert "RecursionError" not in server.log()  # a failed batch, not a poll that broke


@pytest.mark.runc
def test_an_async_destination_carries_a_deep_response(lam: Any, sqs: Any, deep: str) -> None:
    url, arn = queue(sqs, "deep-successes")
    lam.put_function_event_invoke_config(
        FunctionName=deep, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    sent = lam.invoke(FunctionName=deep, InvocationType="Event", Payload=b'{"shape": "array"}')
    (message,) = receive(sqs, url, "the success record")
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == sent["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == DEEP_ARRAY.decode()


@pytest.mark.runc
def test_a_deep_error_is_the_callers_function_error(lam: Any, deep: str) -> None:
    answer = lam.invoke(FunctionName=deep, Payload=b'{"error": true}')
    assert answer["FunctionError"] == "Unhandled"
    assert answer["Payload"].read() == DEEP_ARRAY
