"""The async event lifecycle denies every move not in its table; decisions are pure functions of `now`."""

from __future__ import annotations

import pytest

from lambkin.invoke.async_lifecycle import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    ZERO_RESERVED,
    AsyncEvent,
    EventAction,
    EventState,
    Finish,
    InvalidStateTransition,
    Kind,
    Retry,
    RetryPolicy,
    Wait,
    decide,
    retry_delay,
    throttle_delay,
    transition,
)


def event(attempts: int = 0, accepted_at: float = 1000.0, throttles: int = 0) -> AsyncEvent:
    return AsyncEvent("id", "fn", None, "arn", b"{}", accepted_at, accepted_at, attempts, throttles)


def test_only_the_table_moves_are_allowed() -> None:
    assert transition(EventState.QUEUED, EventAction.DISPATCH) is EventState.RUNNING
    assert transition(EventState.RUNNING, EventAction.RETRY) is EventState.QUEUED
    assert transition(EventState.RUNNING, EventAction.THROTTLE) is EventState.QUEUED
    assert transition(EventState.RUNNING, EventAction.SUCCEED) is EventState.SUCCEEDED
    for state, action in [
        (EventState.QUEUED, EventAction.SUCCEED),
        (EventState.QUEUED, EventAction.RETRY),
        (EventState.RUNNING, EventAction.DISPATCH),
        (EventState.SUCCEEDED, EventAction.RETRY),
        (EventState.FAILED, EventAction.DISPATCH),
        (EventState.DROPPED, EventAction.DISPATCH),
    ]:
        with pytest.raises(InvalidStateTransition):
            transition(state, action)


def test_lambdas_backoff_is_one_minute_then_two_scaled() -> None:
    assert retry_delay(1, 1.0) == 60.0
    assert retry_delay(2, 1.0) == 120.0
    assert retry_delay(1, 0.01) == pytest.approx(0.6)
    assert [throttle_delay(n, 1.0) for n in (1, 2, 3, 10)] == [1.0, 2.0, 4.0, 300.0]


def test_function_errors_retry_until_the_attempts_are_spent() -> None:
    policy = RetryPolicy()
    assert decide(event(attempts=1), Kind.FUNCTION_ERROR, policy, 1000.0) == Retry(1060.0)
    assert decide(event(attempts=2), Kind.FUNCTION_ERROR, policy, 1060.0) == Retry(1180.0)
    assert decide(event(attempts=3), Kind.FUNCTION_ERROR, policy, 1180.0) == Finish(RETRIES_EXHAUSTED)
    assert decide(event(attempts=1), Kind.FUNCTION_ERROR, RetryPolicy(max_retries=0), 1000.0) == Finish(
        RETRIES_EXHAUSTED
    )


def test_a_retry_past_the_maximum_age_goes_to_the_failure_path() -> None:
    policy = RetryPolicy(max_age_s=60)
    assert decide(event(attempts=1), Kind.FUNCTION_ERROR, policy, 1000.5) == Finish(EVENT_AGE_EXCEEDED)


def test_throttles_wait_without_spending_attempts_until_too_old() -> None:
    policy = RetryPolicy()
    assert decide(event(throttles=3), Kind.THROTTLED, policy, 1010.0) == Wait(1014.0)
    assert decide(event(), Kind.THROTTLED, policy, 1000.0 + 21_601) == Finish(EVENT_AGE_EXCEEDED)


def test_success_and_zero_concurrency_finish() -> None:
    assert decide(event(attempts=1), Kind.SUCCESS, RetryPolicy(), 1.0) == Finish(SUCCESS)
    assert decide(event(), Kind.ZERO_CONCURRENCY, RetryPolicy(), 1.0) == Finish(ZERO_RESERVED)
    assert Finish(SUCCESS).succeeded and not Finish(ZERO_RESERVED).succeeded
