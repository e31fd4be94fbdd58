"""What a receive hands back: a delivered message with the system and message attributes asked for."""

from __future__ import annotations

from dataclasses import dataclass

from lambkin.queues import storage
from lambkin.queues.lifecycle import MessageMeta
from lambkin.queues.messages import AttributeValue, md5_of_attributes
from lambkin.queues.queue import Queue
from lambkin.queues.receipts import Receipt
from lambkin.queues.sending import sequence_number


@dataclass(slots=True)
class ReceivedMessage:
    """One delivered message; `receipt_handle` names this delivery (delete or hide it with that)."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: dict[str, AttributeValue]
    md5_of_message_attributes: str | None


def render(
    queue: Queue,
    meta: MessageMeta,
    content: storage.MessageContent,
    attribute_names: tuple[str, ...],
    message_attribute_names: tuple[str, ...],
) -> ReceivedMessage:
    """A delivered message as the caller asked to see it (system and message attributes filtered)."""
    attributes = content.attributes
    chosen = (
        {k: v for k, v in attributes.items() if _wanted(k, message_attribute_names)}
        if attributes and message_attribute_names
        else {}
    )
    return ReceivedMessage(
        meta.message_id,
        Receipt(queue.name, meta.message_id, meta.receipt).encode(),
        content.body,
        content.md5_body,
        _system(queue, meta, content, attribute_names) if attribute_names else {},
        chosen,
        md5_of_attributes(chosen),
    )


def _system(
    queue: Queue, meta: MessageMeta, content: storage.MessageContent, attribute_names: tuple[str, ...]
) -> dict[str, str]:
    """The system attributes asked for by name (or "All")."""
    system = {
        "SenderId": content.sender_id,
        "SentTimestamp": str(int(meta.sent_at * 1000)),
        "ApproximateReceiveCount": str(meta.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int((meta.first_receive_at or meta.sent_at) * 1000)),
    }
    if meta.group_id is not None:
        system["MessageGroupId"] = meta.group_id
    if queue.fifo:
        system["SequenceNumber"] = sequence_number(meta.seq)
        if content.dedup_id is not None:
            system["MessageDeduplicationId"] = content.dedup_id
    for name, value in content.system_attributes.items():
        system[name] = value.string_value or ""
    if content.dlq_source is not None:
        system["DeadLetterQueueSourceArn"] = content.dlq_source
    if "All" not in attribute_names:
        system = {k: v for k, v in system.items() if k in attribute_names}
    return system


def _wanted(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a message attribute is asked for: by its name, "All", ".*", or a prefix ("Hel.*" names Hello
    and Help.Me)."""
    for pattern in patterns:
        if pattern in ("All", ".*") or pattern == name:
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-2]):
            return True
    return False
