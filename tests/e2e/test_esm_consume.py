"""Event source mappings end to end: real awslambdaric images in runc consuming lambkin queues through pollers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.e2e.lambda_support import allow_queue_polling, create_active
from tests.harness import LambkinServer, eventually

pytestmark = pytest.mark.runc

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


def make_queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def with_dlq(sqs: Any, name: str, visibility: int = 2, max_receives: int = 2) -> tuple[str, str, str]:
    dlq_url, dlq_arn = make_queue(sqs, f"{name}-dlq")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})
    url, arn = make_queue(sqs, name, VisibilityTimeout=str(visibility), RedrivePolicy=policy)
    return url, arn, dlq_url


def counts(sqs: Any, url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(got[names[0]]), int(got[names[1]])


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return bodies
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
        )


def send_all(sqs: Any, url: str, bodies: list[str], **extra: Any) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": b, **extra} for i, b in enumerate(chunk)]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def logged_events(server: LambkinServer, function: str) -> list[dict[str, Any]]:
    logs = server.client("logs")
    events: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        try:
            page = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{function}", filterPattern="EVENT", **token
            )
        except logs.exceptions.ResourceNotFoundException:
            return events  # no invocation yet
        for line in page["events"]:
            text = line["message"]
            if text.startswith("EVENT "):
                events.append(json.loads(text[len("EVENT ") :]))
        if not page.get("nextToken"):
            return events
        token = {"nextToken": page["nextToken"]}


def function(lam: Any, handlers_uri: str, name: str, handler: str, timeout: int = 2) -> str:
    allow_queue_polling(lam.meta.endpoint_url)
    create_active(lam, name, handlers_uri, ImageConfig={"Command": [handler]}, Timeout=timeout)
    return name


def test_batches_are_consumed_and_deleted(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = make_queue(sqs, "orders", VisibilityTimeout="10")
    name = function(lam, handlers_uri, "orders-consumer", "batch.strict")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    send_all(sqs, url, [f"order {i}" for i in range(50)])
    eventually(lambda: counts(sqs, url) == (0, 0), "every message consumed and deleted")


def test_batch_item_failures_return_only_the_failed_and_reach_the_dlq(
    lam: Any, sqs: Any, handlers_uri: str
) -> None:
    url, arn, dlq = with_dlq(sqs, "partial")
    name = function(lam, handlers_uri, "partial-consumer", "batch.report")
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    bodies = [f"fail {i}" if i % 7 == 3 else f"ok {i}" for i in range(40)]
    send_all(sqs, url, bodies)
    failing = sorted(b for b in bodies if b.startswith("fail"))
    eventually(lambda: counts(sqs, url) == (0, 0) and counts(sqs, dlq)[0] == len(failing), "failures in DLQ")
    assert sorted(drain(sqs, dlq)) == failing
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"


def test_a_failing_batch_comes_back_and_poison_reaches_the_dlq(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn, dlq = with_dlq(sqs, "poison")
    name = function(lam, handlers_uri, "poison-consumer", "batch.strict")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    bodies = [f"fail {i}" if i in (2, 5) else f"ok {i}" for i in range(10)]
    send_all(sqs, url, bodies)
    eventually(lambda: counts(sqs, url) == (0, 0) and counts(sqs, dlq)[0] == 2, "poison in DLQ")
    assert sorted(drain(sqs, dlq)) == ["fail 2", "fail 5"]


def test_the_event_is_lambdas_sqs_record_shape(
    server: LambkinServer, lam: Any, sqs: Any, handlers_uri: str
) -> None:
    url, arn = make_queue(sqs, "shape")
    name = function(lam, handlers_uri, "shape-consumer", "batch.show")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={
            "Color": {"DataType": "String", "StringValue": "blue"},
            "Count": {"DataType": "Number", "StringValue": "3"},
            "Raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    eventually(lambda: len(logged_events(server, name)) == 1, "the event logged")
    (event,) = logged_events(server, name)
    (record,) = event["Records"]
    assert list(record) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == "hello"
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        arn,
        "us-east-1",
    )
    attributes = record["attributes"]
    assert set(attributes) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "Color": {
            "stringValue": "blue",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "Count": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "Raw": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    eventually(lambda: counts(sqs, url) == (0, 0), "the message deleted")


def test_fifo_order_is_kept_per_group(server: LambkinServer, lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = make_queue(sqs, "ledger.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    name = function(lam, handlers_uri, "ledger-consumer", "batch.show")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=3)
    for group in ("a", "b", "c"):
        send_all(sqs, url, [f"{group}-{i:03d}" for i in range(20)], MessageGroupId=group)
    eventually(lambda: counts(sqs, url) == (0, 0), "the FIFO queue drained")
    seen: dict[str, list[str]] = {}
    for event in logged_events(server, name):
        for record in event["Records"]:
            assert record["attributes"]["MessageGroupId"] == record["body"][0]
            assert "SequenceNumber" in record["attributes"]
            seen.setdefault(record["attributes"]["MessageGroupId"], []).append(record["body"])
    for group in ("a", "b", "c"):
        assert seen[group] == [f"{group}-{i:03d}" for i in range(20)]


def test_deleting_the_function_disables_its_mapping(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = make_queue(sqs, "orphan")
    name = function(lam, handlers_uri, "short-lived", "batch.strict")
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"]
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", "enabled")
    lam.delete_function(FunctionName=name)
    sqs.send_message(QueueUrl=url, MessageBody="nobody home")
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "disabled")
    assert lam.get_event_source_mapping(UUID=uuid)["StateTransitionReason"] == "PROBLEM: Function not found."


def test_deleting_the_queue_disables_its_mapping(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = make_queue(sqs, "vanishing")
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="orders-consumer")["UUID"]
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", "enabled")
    sqs.delete_queue(QueueUrl=url)
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "disabled")
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["StateTransitionReason"] == "PROBLEM: The SQS queue does not exist."


def test_a_disabled_mapping_leaves_messages_until_enabled(lam: Any, sqs: Any, handlers_uri: str) -> None:
    url, arn = make_queue(sqs, "paused", VisibilityTimeout="10")
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="orders-consumer")["UUID"]
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", "enabled")
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "disabled")
    send_all(sqs, url, [f"held {i}" for i in range(5)])
    assert counts(sqs, url) == (5, 0)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    eventually(lambda: counts(sqs, url) == (0, 0), "consumed once enabled")


def test_batch_size_over_ten_with_a_window_gathers_one_batch(
    server: LambkinServer, lam: Any, sqs: Any, handlers_uri: str
) -> None:
    url, arn = make_queue(sqs, "gathered", VisibilityTimeout="10")
    name = function(lam, handlers_uri, "gathered-consumer", "batch.show")
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=25, MaximumBatchingWindowInSeconds=1, Enabled=False
    )["UUID"]
    eventually(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "disabled")
    send_all(sqs, url, [f"g {i}" for i in range(25)])
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    eventually(lambda: counts(sqs, url) == (0, 0), "consumed")
    eventually(lambda: len(logged_events(server, name)) == 1, "logged")
    (event,) = logged_events(server, name)
    assert sorted(r["body"] for r in event["Records"]) == sorted(f"g {i}" for i in range(25))


def test_reserved_concurrency_throttles_are_retried_not_lost(lam: Any, sqs: Any, handlers_uri: str) -> None:
    """Five pollers against a function reserved to one: the throttled batches wait and run; none fails.
    (A batch throttled past its visibility timeout comes back, and with one receive allowed goes to the DLQ,
    as on AWS: the timeout leaves room for 30 invocations one after another on a loaded machine.)"""
    url, arn, dlq = with_dlq(sqs, "narrow", visibility=120, max_receives=1)
    name = function(lam, handlers_uri, "narrow-consumer", "batch.strict")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    send_all(sqs, url, [f"n {i}" for i in range(30)])
    eventually(lambda: counts(sqs, url) == (0, 0), "all consumed through one environment")
    assert counts(sqs, dlq) == (0, 0)


def test_a_timed_out_batch_comes_back_and_reaches_the_dlq(lam: Any, sqs: Any, handlers_uri: str) -> None:
    """app.timeout sleeps 30 s on an SQS event; the function's 1 s timeout fails the batch each time."""
    url, arn, dlq = with_dlq(sqs, "sleepy", visibility=2, max_receives=1)
    name = function(lam, handlers_uri, "sleepy-consumer", "app.timeout", timeout=1)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="too slow")
    eventually(lambda: counts(sqs, url) == (0, 0) and counts(sqs, dlq)[0] == 1, "timed-out message in DLQ")
    assert drain(sqs, dlq) == ["too slow"]
