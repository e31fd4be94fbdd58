"""A queue message's lifecycle: its states, the moves each allows, and the pure decisions that take `now`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class MessageState(enum.Enum):
    DELAYED = "delayed"  # sent, not yet visible (DelaySeconds)
    VISIBLE = "visible"  # waiting to be received
    IN_FLIGHT = "in_flight"  # received, hidden until its visibility timeout ends
    DELETED = "deleted"
    DEAD_LETTERED = "dead_lettered"  # moved to the dead-letter queue
    EXPIRED = "expired"  # older than the queue's retention period
    PURGED = "purged"


class MessageEvent(enum.Enum):
    RECEIVE = "receive"
    DELETE = "delete"
    CHANGE_VISIBILITY = "change_visibility"
    DEAD_LETTER = "dead_letter"
    EXPIRE = "expire"
    PURGE = "purge"


class InvalidStateTransition(Exception):
    def __init__(self, state: MessageState, event: MessageEvent) -> None:
        super().__init__(f"a {state.value} message cannot {event.value}")
        self.state = state
        self.event = event


S, E = MessageState, MessageEvent
# Denied unless listed. The latest receipt handle still deletes a message whose visibility timeout ended.
TRANSITIONS: dict[tuple[MessageState, MessageEvent], MessageState] = {
    (S.DELAYED, E.EXPIRE): S.EXPIRED,
    (S.DELAYED, E.PURGE): S.PURGED,
    (S.VISIBLE, E.RECEIVE): S.IN_FLIGHT,
    (S.VISIBLE, E.DEAD_LETTER): S.DEAD_LETTERED,
    (S.VISIBLE, E.DELETE): S.DELETED,
    (S.VISIBLE, E.EXPIRE): S.EXPIRED,
    (S.VISIBLE, E.PURGE): S.PURGED,
    (S.IN_FLIGHT, E.DELETE): S.DELETED,
    (S.IN_FLIGHT, E.CHANGE_VISIBILITY): S.IN_FLIGHT,
    (S.IN_FLIGHT, E.EXPIRE): S.EXPIRED,
    (S.IN_FLIGHT, E.PURGE): S.PURGED,
}


def transition(state: MessageState, event: MessageEvent) -> MessageState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidStateTransition(state, event) from None


@dataclass(frozen=True)
class MessageMeta:
    """What the engine keeps in memory about one stored message (its body stays on disk)."""

    message_id: str
    queue: str
    seq: int
    sent_at: float
    visible_at: float
    receive_count: int = 0
    first_receive_at: float | None = None
    receipt: str = ""
    group_id: str | None = None
    size: int = 0

    def state(self, now: float) -> MessageState:
        """DELAYED, VISIBLE or IN_FLIGHT: the live states follow from the clock."""
        if self.visible_at <= now:
            return MessageState.VISIBLE
        return MessageState.IN_FLIGHT if self.receive_count else MessageState.DELAYED

    def expired(self, now: float, retention: int) -> bool:
        return self.sent_at + retention <= now


class ReceiveOutcome(enum.Enum):
    DELIVER = "deliver"
    DEAD_LETTER = "dead_letter"
    EXPIRE = "expire"


def decide_receive(
    meta: MessageMeta, now: float, retention: int, max_receive_count: int | None
) -> ReceiveOutcome:
    """What a receive does with a visible message: deliver it, move it to the DLQ, or drop it as expired."""
    if meta.expired(now, retention):
        transition(meta.state(now), MessageEvent.EXPIRE)
        return ReceiveOutcome.EXPIRE
    if max_receive_count is not None and meta.receive_count >= max_receive_count:
        transition(meta.state(now), MessageEvent.DEAD_LETTER)
        return ReceiveOutcome.DEAD_LETTER
    transition(meta.state(now), MessageEvent.RECEIVE)
    return ReceiveOutcome.DELIVER


def received(meta: MessageMeta, now: float, visibility_timeout: int, receipt: str) -> MessageMeta:
    """`meta` after one more delivery."""
    first = meta.first_receive_at
    return MessageMeta(
        meta.message_id,
        meta.queue,
        meta.seq,
        meta.sent_at,
        now + visibility_timeout,
        meta.receive_count + 1,
        now if first is None else first,
        receipt,
        meta.group_id,
        meta.size,
    )


def change_visibility(meta: MessageMeta, now: float, timeout: int) -> MessageMeta:
    """`meta` hidden for `timeout` more seconds from now (0 makes it visible at once). A received message
    whose visibility timeout ended counts as in flight still: its receipt handle hides it again (standard
    queues; FIFO queues refuse the handle first)."""
    state = meta.state(now)
    if state is MessageState.VISIBLE and meta.receipt:
        state = MessageState.IN_FLIGHT
    transition(state, MessageEvent.CHANGE_VISIBILITY)
    return replace(meta, visible_at=now + timeout)
