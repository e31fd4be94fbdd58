"""An async event's lifecycle (enum + transition table) and the pure decisions: retry, wait, or give up."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import assert_never

RETRY_DELAYS_S = (60.0, 120.0)  # before the 2nd and the 3rd attempt of a function error
THROTTLE_FIRST_S = 1.0  # throttles and system errors back off from 1 s ...
THROTTLE_MAX_S = 300.0  # ... doubling up to 5 minutes, until the event is too old
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE_S = 21_600

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
ZERO_RESERVED = "ZeroReservedConcurrency"


class EventState(enum.Enum):
    QUEUED = "Queued"  # on disk, waiting for its due time and a free slot
    RUNNING = "Running"  # an attempt is under way (on disk it is still QUEUED: a crash re-dispatches it)
    SUCCEEDED = "Succeeded"  # delivered to the success destination, removed
    FAILED = "Failed"  # delivered to the failure destination / DLQ, removed
    DROPPED = "Dropped"  # its function no longer exists, removed


class EventAction(enum.Enum):
    DISPATCH = "dispatch"
    SUCCEED = "succeed"
    RETRY = "retry"  # a function error with attempts left: due again after the back-off
    THROTTLE = "throttle"  # no slot (or a system error): due again, no attempt consumed
    FAIL = "fail"
    DROP = "drop"


_ALLOWED: dict[EventState, dict[EventAction, EventState]] = {
    EventState.QUEUED: {EventAction.DISPATCH: EventState.RUNNING, EventAction.DROP: EventState.DROPPED},
    EventState.RUNNING: {
        EventAction.SUCCEED: EventState.SUCCEEDED,
        EventAction.RETRY: EventState.QUEUED,
        EventAction.THROTTLE: EventState.QUEUED,
        EventAction.FAIL: EventState.FAILED,
        EventAction.DROP: EventState.DROPPED,
    },
    EventState.SUCCEEDED: {},
    EventState.FAILED: {},
    EventState.DROPPED: {},
}


class InvalidStateTransition(Exception):
    """The event's state does not allow this action."""


def transition(state: EventState, action: EventAction) -> EventState:
    """The state after `action`, or InvalidStateTransition: every move not in the table is denied."""
    following = _ALLOWED[state].get(action)
    if following is None:
        raise InvalidStateTransition(f"{action.value} is not allowed in state {state.value}")
    return following


@dataclass(frozen=True)
class AsyncEvent:
    """One accepted event. `attempts` counts function-error attempts made (throttles do not count)."""

    request_id: str
    function: str  # the function's name
    qualifier: str | None  # as the caller gave it: None, $LATEST, a version or an alias
    invoked_arn: str
    payload: bytes | None  # None while it waits: a large payload stays on disk until its attempt
    accepted_at: float  # wall-clock seconds
    due: float
    attempts: int = 0
    throttles: int = 0  # consecutive throttles, for the back-off (kept in memory only)
    state: EventState = EventState.QUEUED

    @property
    def body(self) -> bytes:
        """The payload, which the dispatcher loads before an attempt."""
        if self.payload is None:
            raise ValueError(f"the payload of async event {self.request_id} is not loaded")
        return self.payload

    def moved(self, action: EventAction, **changes: object) -> AsyncEvent:
        return replace(self, state=transition(self.state, action), **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RetryPolicy:
    """The function's EventInvokeConfig limits, and the server's scale for every back-off (1.0 = Lambda's)."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age_s: float = DEFAULT_MAX_AGE_S
    scale: float = 1.0


class Kind(enum.Enum):
    """What an attempt produced, as far as the decision cares."""

    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"  # unhandled errors, timeouts, crashes
    THROTTLED = "throttled"  # no concurrency slot, or the function is busy updating
    ZERO_CONCURRENCY = "zero-concurrency"  # reserved concurrency 0: throttled for good


@dataclass(frozen=True)
class Retry:
    due: float


@dataclass(frozen=True)
class Wait:
    due: float


@dataclass(frozen=True)
class Finish:
    condition: str  # Success, RetriesExhausted, EventAgeExceeded, ZeroReservedConcurrency

    @property
    def succeeded(self) -> bool:
        return self.condition == SUCCESS


Decision = Retry | Wait | Finish


def too_old(event: AsyncEvent, policy: RetryPolicy, now: float) -> bool:
    return now - event.accepted_at > policy.max_age_s


def retry_delay(attempts: int, scale: float) -> float:
    """The back-off before attempt `attempts + 1` after a function error: 1 minute, then 2."""
    index = min(attempts, len(RETRY_DELAYS_S)) - 1
    return RETRY_DELAYS_S[max(index, 0)] * scale


def throttle_delay(throttles: int, scale: float) -> float:
    """1 s, 2 s, 4 s ... up to 5 minutes, scaled."""
    return min(THROTTLE_FIRST_S * 2.0 ** max(throttles - 1, 0), THROTTLE_MAX_S) * scale


def decide(event: AsyncEvent, kind: Kind, policy: RetryPolicy, now: float) -> Decision:
    """What to do with `event` after an attempt that ended as `kind` (its `attempts` already counted)."""
    match kind:
        case Kind.SUCCESS:
            return Finish(SUCCESS)
        case Kind.ZERO_CONCURRENCY:
            return Finish(ZERO_RESERVED)
        case Kind.FUNCTION_ERROR:
            if event.attempts > policy.max_retries:
                return Finish(RETRIES_EXHAUSTED)
            due = now + retry_delay(event.attempts, policy.scale)
            if due - event.accepted_at > policy.max_age_s:
                return Finish(EVENT_AGE_EXCEEDED)
            return Retry(due)
        case Kind.THROTTLED:
            if too_old(event, policy, now):
                return Finish(EVENT_AGE_EXCEEDED)
            return Wait(now + throttle_delay(event.throttles, policy.scale))
        case _:
            assert_never(kind)
