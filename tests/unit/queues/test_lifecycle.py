"""The message lifecycle: the transition table denies by default; receive decisions take `now`."""

from __future__ import annotations

import pytest

from lambkin.queues.lifecycle import (
    TRANSITIONS,
    InvalidStateTransition,
    MessageEvent,
    MessageMeta,
    MessageState,
    ReceiveOutcome,
    change_visibility,
    decide_receive,
    received,
    transition,
)

NOW = 1000.0


def meta(**changes: object) -> MessageMeta:
    base = MessageMeta("m", "q", 1, sent_at=NOW, visible_at=NOW)
    return MessageMeta(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_every_unlisted_move_is_denied() -> None:
    for state in MessageState:
        for event in MessageEvent:
            if (state, event) in TRANSITIONS:
                assert transition(state, event) is TRANSITIONS[(state, event)]
            else:
                with pytest.raises(InvalidStateTransition):
                    transition(state, event)


def test_state_follows_the_clock() -> None:
    assert meta(visible_at=NOW + 5).state(NOW) is MessageState.DELAYED
    assert meta().state(NOW) is MessageState.VISIBLE
    taken = received(meta(), NOW, 30, "t")
    assert taken.state(NOW + 29) is MessageState.IN_FLIGHT
    assert taken.state(NOW + 30) is MessageState.VISIBLE
    assert (taken.receive_count, taken.first_receive_at) == (1, NOW)
    assert received(taken, NOW + 40, 30, "u").first_receive_at == NOW


def test_receive_decisions() -> None:
    assert decide_receive(meta(), NOW, 60, None) is ReceiveOutcome.DELIVER
    assert decide_receive(meta(receive_count=2), NOW, 60, 3) is ReceiveOutcome.DELIVER
    assert decide_receive(meta(receive_count=3), NOW, 60, 3) is ReceiveOutcome.DEAD_LETTER
    assert decide_receive(meta(sent_at=NOW - 60), NOW, 60, 3) is ReceiveOutcome.EXPIRE


def test_change_visibility_needs_a_message_in_flight() -> None:
    with pytest.raises(InvalidStateTransition):
        change_visibility(meta(), NOW, 10)
    taken = received(meta(), NOW, 30, "t")
    assert change_visibility(taken, NOW + 1, 0).state(NOW + 1) is MessageState.VISIBLE
    # its visibility timeout over, a received message is hidden again by its handle
    assert change_visibility(taken, NOW + 40, 10).state(NOW + 41) is MessageState.IN_FLIGHT
