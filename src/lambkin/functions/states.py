"""A function's lifecycles: State (Pending → Active | Failed) and LastUpdateStatus, each a deny-by-default table."""

from __future__ import annotations

from enum import StrEnum


class InvalidStateTransition(Exception):
    """A move that the lifecycle's table does not allow."""


class State(StrEnum):
    """`State` in FunctionConfiguration. lambkin uses the first four; the rest exist in the model."""

    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class UpdateStatus(StrEnum):
    """`LastUpdateStatus` in FunctionConfiguration."""

    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


_STATE_MOVES: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.ACTIVE, State.FAILED}),
    State.ACTIVE: frozenset({State.INACTIVE}),
    State.INACTIVE: frozenset({State.PENDING}),
    # A function whose image could not be resolved comes back through Pending when its code is updated.
    State.FAILED: frozenset({State.PENDING}),
}

_UPDATE_MOVES: dict[UpdateStatus, frozenset[UpdateStatus]] = {
    UpdateStatus.IN_PROGRESS: frozenset({UpdateStatus.SUCCESSFUL, UpdateStatus.FAILED}),
    UpdateStatus.SUCCESSFUL: frozenset({UpdateStatus.IN_PROGRESS}),
    UpdateStatus.FAILED: frozenset({UpdateStatus.IN_PROGRESS}),
}


def transition(current: State, target: State) -> State:
    """`target` if the State table allows the move from `current`, else InvalidStateTransition."""
    if target not in _STATE_MOVES.get(current, frozenset()):
        raise InvalidStateTransition(f"function state {current} cannot become {target}")
    return target


def update_transition(current: UpdateStatus, target: UpdateStatus) -> UpdateStatus:
    """`target` if the LastUpdateStatus table allows the move from `current`, else InvalidStateTransition."""
    if target not in _UPDATE_MOVES.get(current, frozenset()):
        raise InvalidStateTransition(f"last update status {current} cannot become {target}")
    return target


def is_settled(state: State, update: UpdateStatus) -> bool:
    """True when no background work is under way, so a new update or a publish may start."""
    return state is not State.PENDING and update is not UpdateStatus.IN_PROGRESS
