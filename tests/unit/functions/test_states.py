"""The State and LastUpdateStatus tables deny every move they do not list."""

from __future__ import annotations

import pytest

from lambkin.functions.states import (
    InvalidStateTransition,
    State,
    UpdateStatus,
    is_settled,
    transition,
    update_transition,
)


def test_pending_becomes_active_or_failed() -> None:
    assert transition(State.PENDING, State.ACTIVE) is State.ACTIVE
    assert transition(State.PENDING, State.FAILED) is State.FAILED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.ACTIVE, State.PENDING),
        (State.ACTIVE, State.FAILED),
        (State.FAILED, State.ACTIVE),
        (State.PENDING, State.PENDING),
    ],
)
def test_other_state_moves_are_denied(current: State, target: State) -> None:
    with pytest.raises(InvalidStateTransition):
        transition(current, target)


def test_update_status_moves() -> None:
    assert update_transition(UpdateStatus.SUCCESSFUL, UpdateStatus.IN_PROGRESS) is UpdateStatus.IN_PROGRESS
    with pytest.raises(InvalidStateTransition):
        update_transition(UpdateStatus.IN_PROGRESS, UpdateStatus.IN_PROGRESS)
    with pytest.raises(InvalidStateTransition):
        update_transition(UpdateStatus.SUCCESSFUL, UpdateStatus.FAILED)


def test_settled() -> None:
    assert is_settled(State.ACTIVE, UpdateStatus.SUCCESSFUL)
    assert is_settled(State.FAILED, UpdateStatus.FAILED)
    assert not is_settled(State.PENDING, UpdateStatus.IN_PROGRESS)
    assert not is_settled(State.ACTIVE, UpdateStatus.IN_PROGRESS)
