"""Turning one send request into a stored message: validation, MD5s, delay, FIFO group and deduplication."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from lambkin import ids
from lambkin.queues.errors import InvalidParameterValue, MissingParameter
from lambkin.queues.lifecycle import MessageMeta
from lambkin.queues.messages import (
    AttributeValue,
    md5_of_attributes,
    md5_of_body,
    message_size,
    validate_attributes,
    validate_body,
)
from lambkin.queues.queue import DEDUP_WINDOW, Queue
from lambkin.queues.storage import DedupEntry, MessageContent, NewMessage

_TOKEN = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


@dataclass(slots=True)
class SendRequest:
    """One message to send, as SendMessage or one SendMessageBatch entry carries it."""

    body: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    system_attributes: dict[str, AttributeValue] = field(default_factory=dict)
    delay_seconds: int | None = None
    group_id: str | None = None
    deduplication_id: str | None = None
    trace_header: str | None = None  # the sender's X-Amzn-Trace-Id header


@dataclass(slots=True)
class SendResult:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None = None
    md5_of_system_attributes: str | None = None
    sequence_number: str | None = None


def sequence_number(seq: int) -> str:
    """FIFO SequenceNumber: a large number, growing per queue."""
    return str(10**19 + seq)


def check(queue: Queue, request: SendRequest) -> int:
    """Validates a request against its queue; returns the message's size in bytes."""
    validate_body(request.body)
    validate_attributes(request.attributes)
    validate_attributes(request.system_attributes, system=True)
    size = message_size(request.body, request.attributes)
    limit = queue.config.maximum_message_size
    if size > limit:
        raise InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )
    if request.delay_seconds is not None:
        if not 0 <= request.delay_seconds <= 900:
            raise InvalidParameterValue(
                f"Value {request.delay_seconds} for parameter DelaySeconds is invalid. Reason: must be "
                "between 0 and 900 seconds."
            )
        if queue.fifo and request.delay_seconds != 0:  # a FIFO queue's delay is the queue's own
            raise InvalidParameterValue(
                f"Value {request.delay_seconds} for parameter DelaySeconds is invalid. Reason: The request "
                "include parameter that is not valid for this queue type."
            )
    if queue.fifo and request.group_id is None:
        raise MissingParameter("The request must contain the parameter MessageGroupId.")
    if request.deduplication_id is not None and not queue.fifo:
        raise InvalidParameterValue(
            "The request include parameter MessageDeduplicationId which is not valid for this queue type"
        )
    for name, value in (
        ("MessageGroupId", request.group_id),
        ("MessageDeduplicationId", request.deduplication_id),
    ):
        if value is not None and not _TOKEN.match(value):
            raise InvalidParameterValue(
                f"Value {value} for parameter {name} is invalid. Reason: {name} can only include alphanumeric "
                "and punctuation characters. 1 to 128 in length."
            )
    return size


def check_fifo_batch(queue: Queue, requests: list[SendRequest]) -> None:
    """A FIFO SendMessageBatch whose entry lacks its group ID (or its deduplication ID, without
    content-based deduplication) fails as a whole: nothing of it is sent."""
    if not queue.fifo:
        return
    for request in requests:
        if request.group_id is None:
            raise MissingParameter("The request must contain the parameter MessageGroupId.")
        if request.deduplication_id is None and not queue.config.content_based_deduplication:
            raise _no_deduplication_id()


def dedup_key(queue: Queue, request: SendRequest) -> str | None:
    """The FIFO deduplication key (scoped by group when DeduplicationScope is messageGroup)."""
    if not queue.fifo:
        return None
    key = request.deduplication_id
    if key is None:
        if not queue.config.content_based_deduplication:
            raise _no_deduplication_id()
        key = hashlib.sha256(request.body.encode()).hexdigest()
    if queue.config.deduplication_scope == "messageGroup":
        return f"{request.group_id}\x00{key}"
    return key


def prepare(
    queue: Queue, request: SendRequest, sender_id: str, now: float
) -> tuple[NewMessage | None, SendResult]:
    """The message to store (None for a FIFO duplicate within 5 minutes) and the answer to give.

    Takes a sequence number and records the deduplication key in `queue` at once, so a concurrent
    duplicate sees it before this message is committed.
    """
    size = check(queue, request)
    md5_attributes = md5_of_attributes(request.attributes)
    md5_system = md5_of_attributes(request.system_attributes)
    md5_body = md5_of_body(request.body)
    key = dedup_key(queue, request)
    if key is not None:
        earlier = queue.duplicate_of(key, now)
        if earlier is not None:
            result = SendResult(
                earlier.message_id, md5_body, md5_attributes, md5_system, sequence_number(earlier.seq)
            )
            return None, result
    seq = queue.take_seq()
    message_id = ids.uuid4()
    delay = queue.config.delay_seconds if request.delay_seconds is None else request.delay_seconds
    meta = MessageMeta(
        message_id, queue.name, seq, sent_at=now, visible_at=now + delay, group_id=request.group_id, size=size
    )
    system = dict(request.system_attributes)
    if request.trace_header and "AWSTraceHeader" not in system:  # X-Ray's header, kept as its attribute
        system["AWSTraceHeader"] = AttributeValue("String", request.trace_header)
    content = MessageContent(
        request.body,
        dict(request.attributes),
        system,
        md5_body,
        md5_attributes,
        request.deduplication_id if request.deduplication_id is not None else (key and key.split("\x00")[-1]),
        sender_id,
        None,
    )
    dedup = None
    if key is not None:
        dedup = DedupEntry(queue.name, key, message_id, seq, now + DEDUP_WINDOW)
        queue.dedup[key] = dedup
    result = SendResult(
        message_id, md5_body, md5_attributes, md5_system, sequence_number(seq) if queue.fifo else None
    )
    return NewMessage(meta, content, dedup), result


def _no_deduplication_id() -> InvalidParameterValue:
    return InvalidParameterValue(
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
        "provided explicitly"
    )
