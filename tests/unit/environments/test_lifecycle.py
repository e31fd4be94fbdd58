"""The environment's and the runtime's state machines: allowed moves, and everything else denied."""

from __future__ import annotations

import itertools

import pytest

from lambkin.environments.lifecycle import (
    EnvState,
    InvalidStateTransition,
    RuntimeState,
    env_transition,
    runtime_transition,
)

ENV_ALLOWED = {
    (EnvState.CREATED, EnvState.INITIALIZING),
    (EnvState.INITIALIZING, EnvState.IDLE),
    (EnvState.IDLE, EnvState.BUSY),
    (EnvState.IDLE, EnvState.FROZEN),
    (EnvState.FROZEN, EnvState.IDLE),
    (EnvState.BUSY, EnvState.IDLE),
} | {(state, EnvState.DEAD) for state in EnvState if state is not EnvState.DEAD}

RUNTIME_ALLOWED = {
    (RuntimeState.STARTED, RuntimeState.READY),
    (RuntimeState.STARTED, RuntimeState.INIT_ERROR),
    (RuntimeState.READY, RuntimeState.RUNNING),
    (RuntimeState.RUNNING, RuntimeState.INVOCATION_RESPONSE),
    (RuntimeState.RUNNING, RuntimeState.INVOCATION_ERROR_RESPONSE),
    (RuntimeState.INVOCATION_RESPONSE, RuntimeState.RESPONSE_SENT),
    (RuntimeState.INVOCATION_ERROR_RESPONSE, RuntimeState.RESPONSE_SENT),
    (RuntimeState.RESPONSE_SENT, RuntimeState.READY),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(EnvState, EnvState)))
def test_environment_moves(current: EnvState, target: EnvState) -> None:
    if (current, target) in ENV_ALLOWED:
        assert env_transition(current, target) is target
    else:
        with pytest.raises(InvalidStateTransition):
            env_transition(current, target)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(RuntimeState, RuntimeState)))
def test_runtime_moves(current: RuntimeState, target: RuntimeState) -> None:
    if (current, target) in RUNTIME_ALLOWED:
        assert runtime_transition(current, target) is target
    else:
        with pytest.raises(InvalidStateTransition):
            runtime_transition(current, target)


def test_dead_and_init_error_are_final() -> None:
    assert not any(env_transition_allowed(EnvState.DEAD, s) for s in EnvState)
    assert not any((RuntimeState.INIT_ERROR, s) in RUNTIME_ALLOWED for s in RuntimeState)


def env_transition_allowed(current: EnvState, target: EnvState) -> bool:
    try:
        env_transition(current, target)
    except InvalidStateTransition:
        return False
    return True
