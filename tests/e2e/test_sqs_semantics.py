"""SQS semantics through boto3 against a running server: FIFO, redrive, long polling, visibility, delays."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.harness import LambkinServer


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs", config=Config(read_timeout=60, retries={"total_max_attempts": 1}))


def fifo_queue(sqs: Any, name: str, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", **attributes})[
        "QueueUrl"
    ]
    return url


def test_fifo_keeps_order_per_group_with_one_batch_in_flight(sqs: Any) -> None:
    url = fifo_queue(sqs, "order", ContentBasedDeduplication="true")
    for i in range(5):
        for group in ("a", "b"):
            sqs.send_message(QueueUrl=url, MessageBody=f"{group}{i}", MessageGroupId=group)
    seen: dict[str, list[str]] = {"a": [], "b": []}
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=3,
            MessageSystemAttributeNames=["MessageGroupId", "SequenceNumber"],
        ).get("Messages", [])
        if not batch:
            break
        groups = {m["Attributes"]["MessageGroupId"] for m in batch}
        # while this batch is in flight its groups give nothing more
        more = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])
        for message in more.get("Messages", []):
            assert message["Attributes"]["MessageGroupId"] not in groups
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        for group in groups:
            sequence = [
                int(m["Attributes"]["SequenceNumber"])
                for m in batch
                if m["Attributes"]["MessageGroupId"] == group
            ]
            assert sequence == sorted(sequence)
        for message in batch:
            seen[message["Attributes"]["MessageGroupId"]].append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert seen == {g: [f"{g}{i}" for i in range(5)] for g in ("a", "b")}


def test_fifo_deduplicates_by_id_and_by_content(sqs: Any) -> None:
    by_id = fifo_queue(sqs, "dedup-id")
    first = sqs.send_message(QueueUrl=by_id, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    again = sqs.send_message(QueueUrl=by_id, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="d1")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    with pytest.raises(ClientError) as failure:
        sqs.send_message(QueueUrl=by_id, MessageBody="z", MessageGroupId="g")
    assert failure.value.response["Error"]["Code"] == "InvalidParameterValue"
    by_content = fifo_queue(sqs, "dedup-content", ContentBasedDeduplication="true")
    ids = {
        sqs.send_message(QueueUrl=by_content, MessageBody="same", MessageGroupId="g")["MessageId"]
        for _ in range(3)
    }
    assert len(ids) == 1
    [message] = sqs.receive_message(
        QueueUrl=by_content, MaxNumberOfMessages=10, AttributeNames=["MessageDeduplicationId"]
    )["Messages"]
    assert len(message["Attributes"]["MessageDeduplicationId"]) == 64  # SHA-256 of the body
    with pytest.raises(ClientError) as failure:
        sqs.send_message(QueueUrl=by_content, MessageBody="no group")
    assert failure.value.response["Error"]["Code"] == "MissingParameter"


def test_redrive_moves_poison_messages_to_the_dead_letter_queue(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="semantics-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    source = sqs.create_queue(QueueName="semantics-src", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")["MessageId"]
    for count in range(1, 4):
        [message] = sqs.receive_message(
            QueueUrl=source, VisibilityTimeout=0, AttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        assert message["Attributes"]["ApproximateReceiveCount"] == str(count)
    assert "Messages" not in sqs.receive_message(QueueUrl=source)  # the 4th receive moves it
    [moved] = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert moved["MessageId"] == sent and moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"].endswith(":semantics-src")


def test_redrive_allow_policy_is_enforced(sqs: Any) -> None:
    dlq = sqs.create_queue(
        QueueName="closed-dlq",
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(
            QueueName="refused-src",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})},
        )
    assert failure.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_long_poll_returns_as_soon_as_a_message_arrives(server: LambkinServer, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    waiting = server.client("sqs", config=Config(read_timeout=60, retries={"total_max_attempts": 1}))
    result: dict[str, Any] = {}
    started = threading.Event()

    def poll() -> None:
        started.set()
        result.update(waiting.receive_message(QueueUrl=url, WaitTimeSeconds=20))

    thread = threading.Thread(target=poll)
    thread.start()
    started.wait()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    thread.join(timeout=15)  # well before the 20 s wait would end on its own
    assert not thread.is_alive()
    assert [m["Body"] for m in result["Messages"]] == ["wake up"]


def test_empty_long_poll_on_queue_default_wait(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="short-wait", Attributes={"ReceiveMessageWaitTimeSeconds": "1"})[
        "QueueUrl"
    ]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_delayed_messages_are_counted_not_delivered(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == [
        "now"
    ]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["ApproximateNumberOfMessages"] == "0"
