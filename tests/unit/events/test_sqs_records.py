"""SQS records: Lambda's shape and attribute casing, payload splitting, and batchItemFailures parsing."""

from __future__ import annotations

import base64
import json

from lambkin.events.sqs_records import failed_items, record, split_by_payload
from lambkin.queues.messages import AttributeValue
from lambkin.queues.receiving import ReceivedMessage

ARN = "arn:aws:sqs:us-east-1:123456789012:q"


def message(message_id: str = "m-1", body: str = "hello", **extra: object) -> ReceivedMessage:
    fields: dict[str, object] = {
        "message_id": message_id,
        "receipt_handle": f"rh-{message_id}",
        "body": body,
        "md5_of_body": "5d41402abc4b2a76b9719d911017c592",
        "attributes": {
            "SenderId": "AIDA",
            "SentTimestamp": "1",
            "ApproximateReceiveCount": "2",
            "ApproximateFirstReceiveTimestamp": "3",
            "DeadLetterQueueSourceArn": "not in records",
        },
        "message_attributes": {},
        "md5_of_message_attributes": None,
    }
    fields.update(extra)
    return ReceivedMessage(**fields)  # type: ignore[arg-type]


def test_a_record_has_lambdas_keys_in_lambdas_order() -> None:
    out = record(message(), ARN, "us-east-1")
    assert list(out) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert out["attributes"] == {
        "ApproximateReceiveCount": "2",
        "SentTimestamp": "1",
        "SenderId": "AIDA",
        "ApproximateFirstReceiveTimestamp": "3",
    }
    assert (out["eventSource"], out["eventSourceARN"], out["awsRegion"]) == ("aws:sqs", ARN, "us-east-1")
    assert out["messageAttributes"] == {}


def test_message_attributes_are_camel_case_with_list_members() -> None:
    attrs = {
        "S": AttributeValue("String", string_value="v"),
        "B": AttributeValue("Binary.raw", binary_value=b"\x01"),
    }
    out = record(message(message_attributes=attrs, md5_of_message_attributes="abc"), ARN, "us-east-1")
    assert out["md5OfMessageAttributes"] == "abc"
    assert out["messageAttributes"]["S"] == {
        "stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }  # fmt: skip
    assert out["messageAttributes"]["B"] == {
        "binaryValue": base64.b64encode(b"\x01").decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary.raw",
    }


def test_fifo_attributes_pass_through() -> None:
    fifo = {"MessageGroupId": "g", "SequenceNumber": "1", "MessageDeduplicationId": "d", "SenderId": "A"}
    out = record(message(attributes=fifo), ARN, "us-east-1")
    assert out["attributes"] == {"SenderId": "A", "SequenceNumber": "1", "MessageGroupId": "g",
                                 "MessageDeduplicationId": "d"}  # fmt: skip


def test_the_payload_is_split_at_the_limit_keeping_at_least_one() -> None:
    messages = [message(f"m-{i}", "x" * 1000) for i in range(10)]
    batch, payload, overflow = split_by_payload(messages, ARN, "us-east-1", limit=5000)
    assert 1 <= len(batch) < 10
    assert len(payload) <= 5000
    assert batch + overflow == messages
    assert [r["messageId"] for r in json.loads(payload)["Records"]] == [m.message_id for m in batch]
    one, _, rest = split_by_payload(messages[:2], ARN, "us-east-1", limit=10)
    assert (len(one), len(rest)) == (1, 1)


def test_batch_item_failures_success_cases() -> None:
    ids = ["a", "b", "c"]
    for payload in (b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}'):
        assert failed_items(payload, ids, fifo=False) == set(), payload
    assert failed_items(b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', ids, fifo=False) == {"b"}


def test_batch_item_failures_that_fail_the_whole_batch() -> None:
    ids = ["a", "b"]
    for payload in (
        b"not json",
        b'"text"',
        b'{"batchItemFailures": "a"}',
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"itemId": "a"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}',
    ):
        assert failed_items(payload, ids, fifo=False) is None, payload


def test_fifo_keeps_everything_from_the_first_failure() -> None:
    ids = ["a", "b", "c", "d"]
    assert failed_items(b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', ids, fifo=True) == {
        "b",
        "c",
        "d",
    }
