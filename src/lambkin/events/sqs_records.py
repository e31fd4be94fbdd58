"""The SQS event Lambda hands a function: one record per received message, in Lambda's own shape."""

from __future__ import annotations

import base64
import json
from typing import Any

from lambkin import json_depth
from lambkin.queues.messages import AttributeValue
from lambkin.queues.receiving import ReceivedMessage

MAX_PAYLOAD = 6 * 1024 * 1024  # the synchronous invoke's request limit

# The system attributes a record carries (FIFO adds the last three; AWSTraceHeader when the sender set it).
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


def message_attribute(value: AttributeValue) -> dict[str, Any]:
    """A message attribute in the camelCase shape Lambda uses (not ReceiveMessage's)."""
    out: dict[str, Any] = {}
    if value.is_binary:
        out["binaryValue"] = base64.b64encode(value.binary_value or b"").decode()
    else:
        out["stringValue"] = value.string_value or ""
    out["stringListValues"] = []
    out["binaryListValues"] = []
    out["dataType"] = value.data_type
    return out


def record(message: ReceivedMessage, source_arn: str, region: str) -> dict[str, Any]:
    attributes = {k: message.attributes[k] for k in RECORD_ATTRIBUTES if k in message.attributes}
    out: dict[str, Any] = {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {k: message_attribute(v) for k, v in message.message_attributes.items()},
    }
    if message.md5_of_message_attributes is not None:
        out["md5OfMessageAttributes"] = message.md5_of_message_attributes
    out["md5OfBody"] = message.md5_of_body
    out["eventSource"] = "aws:sqs"
    out["eventSourceARN"] = source_arn
    out["awsRegion"] = region
    return out


def encode_records(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


def split_by_payload(
    messages: list[ReceivedMessage], source_arn: str, region: str, limit: int = MAX_PAYLOAD
) -> tuple[list[ReceivedMessage], bytes, list[ReceivedMessage]]:
    """The messages that fit one invoke's payload (at least one), that payload, and the overflow."""
    records: list[dict[str, Any]] = []
    size = len(b'{"Records":[]}')
    for index, message in enumerate(messages):
        one = record(message, source_arn, region)
        grown = size + len(json.dumps(one, separators=(",", ":")).encode()) + (1 if records else 0)
        if records and grown > limit:
            return messages[:index], encode_records(records), messages[index:]
        records.append(one)
        size = grown
    return messages, encode_records(records), []


def failed_items(payload: bytes, batch_ids: list[str], fifo: bool) -> set[str] | None:
    """The message ids to keep from a ReportBatchItemFailures response; None means the whole batch failed.

    Complete success: an empty or null response or list. Complete failure: invalid JSON (or JSON nested
    deeper than can be read), an empty or missing itemIdentifier, or an id not in the batch. FIFO keeps
    everything from the first failure on.
    """
    if not payload.strip():
        return set()
    try:
        response = json_depth.loads(payload)
    except ValueError:
        return None
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    items = response.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    known = set(batch_ids)
    failed: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            return None
        identifier = item.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return None
        failed.add(identifier)
    if fifo and failed:
        first = min(batch_ids.index(i) for i in failed)
        failed = set(batch_ids[first:])
    return failed
