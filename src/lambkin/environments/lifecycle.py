"""The two state machines of an execution environment: the environment's own, and its runtime's.

Both deny every transition by default; each state lists only its own moves, and `transition()` is the one
place a state changes. The runtime's machine follows RAPID's (`core/states.go`), whose state names appear in
the Runtime API's InvalidStateTransition messages.
"""

from __future__ import annotations

import enum


class InvalidStateTransition(Exception):
    """A move that the current state does not allow."""

    def __init__(self, machine: str, current: enum.Enum, target: enum.Enum) -> None:
        super().__init__(f"{machine}: {current.name} -> {target.name} is not allowed")
        self.current = current
        self.target = target


class EnvState(enum.Enum):
    """One execution environment, from its sandbox's creation to its destruction."""

    CREATED = "created"  # sandbox being prepared, nothing running yet
    INITIALIZING = "initializing"  # runtime started, its first /next not seen yet
    IDLE = "idle"  # runtime waits in /next, no caller holds the environment
    FROZEN = "frozen"  # idle with its cgroup frozen
    BUSY = "busy"  # leased to exactly one caller (thawed)
    DEAD = "dead"  # sandbox gone or going; never used again

    __hash__ = object.__hash__  # members are singletons: hashed in C (Enum hashes its name in Python)


_ENV_MOVES: dict[EnvState, frozenset[EnvState]] = {
    EnvState.CREATED: frozenset({EnvState.INITIALIZING, EnvState.DEAD}),
    EnvState.INITIALIZING: frozenset({EnvState.IDLE, EnvState.DEAD}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.FROZEN, EnvState.DEAD}),
    EnvState.FROZEN: frozenset({EnvState.IDLE, EnvState.DEAD}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.DEAD}),
    EnvState.DEAD: frozenset(),
}


def env_transition(current: EnvState, target: EnvState) -> EnvState:
    """Returns `target` if `current` allows the move, else raises InvalidStateTransition."""
    if target not in _ENV_MOVES[current]:
        raise InvalidStateTransition("environment", current, target)
    return target


class RuntimeState(enum.Enum):
    """The runtime inside an environment, as its Runtime API calls reveal it. Values are RAPID's names."""

    STARTED = "Started"
    INIT_ERROR = "InitError"
    READY = "Ready"  # waiting in /next
    RUNNING = "Running"  # holds an event
    INVOCATION_RESPONSE = "InvocationResponse"
    INVOCATION_ERROR_RESPONSE = "InvocationErrorResponse"
    RESPONSE_SENT = "RuntimeResponseSentState"

    __hash__ = object.__hash__  # as EnvState's: a transition looks two members up, every invocation


_RUNTIME_MOVES: dict[RuntimeState, frozenset[RuntimeState]] = {
    RuntimeState.STARTED: frozenset({RuntimeState.READY, RuntimeState.INIT_ERROR}),
    RuntimeState.INIT_ERROR: frozenset(),
    RuntimeState.READY: frozenset({RuntimeState.RUNNING}),
    RuntimeState.RUNNING: frozenset(
        {RuntimeState.INVOCATION_RESPONSE, RuntimeState.INVOCATION_ERROR_RESPONSE}
    ),
    RuntimeState.INVOCATION_RESPONSE: frozenset({RuntimeState.RESPONSE_SENT}),
    RuntimeState.INVOCATION_ERROR_RESPONSE: frozenset({RuntimeState.RESPONSE_SENT}),
    RuntimeState.RESPONSE_SENT: frozenset({RuntimeState.READY}),
}


def runtime_transition(current: RuntimeState, target: RuntimeState) -> RuntimeState:
    """Returns `target` if `current` allows the move, else raises InvalidStateTransition."""
    if target not in _RUNTIME_MOVES[current]:
        raise InvalidStateTransition("runtime", current, target)
    return target
