"""What a receipt handle lets DeleteMessage and ChangeMessageVisibility do to the message it names, decided
on the queue's index (no I/O): the message to delete or its new visibility, or the SQS error to answer.

A standard queue is lenient as SQS is: a handle of a message already deleted, or of an older delivery,
deletes nothing and answers success; an older delivery's handle, or one whose timeout ended, still changes
the visibility. A FIFO queue takes only the handle of the delivery in flight (else the group may be
another consumer's now).
"""

from __future__ import annotations

from lambkin.queues.errors import InvalidParameterValue, MessageNotInflight, check_range
from lambkin.queues.lifecycle import MessageEvent, MessageMeta, MessageState, change_visibility, transition
from lambkin.queues.queue import Queue
from lambkin.queues.receipts import decode

MAX_VISIBILITY = 43_200  # seconds: 12 hours, SQS's limit


def to_delete(queue: Queue, handle: str, now: float) -> MessageMeta | None:
    """The message `handle` deletes; None: nothing to delete, and success to answer."""
    receipt = decode(handle, queue.name)
    meta = queue.index.messages.get(receipt.message_id)
    if meta is None:
        return None  # already deleted
    if queue.fifo and (meta.receipt != receipt.token or meta.visible_at <= now):
        raise expired(handle)
    if meta.receipt != receipt.token:
        return None  # an older delivery's handle: the message stays
    transition(meta.state(now), MessageEvent.DELETE)
    return meta


def visibility_changed(
    queue: Queue, handle: str, seconds: int, now: float
) -> tuple[MessageMeta, MessageMeta]:
    """The message `handle` names, before and after its visibility timeout is set to `seconds` from now."""
    check_range("VisibilityTimeout", seconds, 0, MAX_VISIBILITY)
    receipt = decode(handle, queue.name)
    meta = queue.index.messages.get(receipt.message_id)
    if meta is None or not meta.receipt or (queue.fifo and meta.receipt != receipt.token):
        raise InvalidParameterValue(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist "
            "or is not available for visibility timeout change."
        )
    if queue.fifo and meta.state(now) is not MessageState.IN_FLIGHT:
        raise MessageNotInflight()
    return meta, change_visibility(meta, now, seconds)


def expired(handle: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    )
