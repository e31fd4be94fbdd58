"""How many pollers a mapping runs: Lambda's SQS scaling as a pure function of time, backlog and throttles."""

from __future__ import annotations

from dataclasses import dataclass

START = 5  # concurrent batches a mapping starts with
MAX_PER_MAPPING = 1_000
RAMP_PER_S = 300 / 60  # up to 300 more concurrent batches a minute while messages wait
THROTTLE_HOLD_S = 10.0  # after a throttle, no growth for this long


@dataclass(frozen=True)
class Scale:
    """The decision so far: pollers to run, when that number last grew, and the last throttle seen."""

    pollers: int
    grown_at: float
    throttled_at: float | None = None


@dataclass(frozen=True)
class Observation:
    backlog: int  # messages visible in the queue
    in_flight: int  # batches being invoked now
    throttles: int  # Throttled answers since the last decision
    errors: int = 0  # batches the function failed since the last decision


def cap(max_concurrency: int | None, reserved: int | None) -> int:
    """The most pollers allowed: the mapping's MaximumConcurrency and the function's reserved concurrency."""
    limit = MAX_PER_MAPPING if max_concurrency is None else max_concurrency
    return limit if reserved is None else min(limit, reserved)


def initial(now: float, limit: int) -> Scale:
    return Scale(min(START, limit), now)


def decide(current: Scale, now: float, seen: Observation, limit: int) -> Scale:
    """The next scale. Throttles halve it (never below 1 while the limit allows any); function errors halve
    it down to START at least; waiting messages with every poller busy grow it by up to RAMP_PER_S a second;
    an empty queue returns it to START."""
    if limit <= 0:
        return Scale(0, now, current.throttled_at)
    if seen.throttles:
        return Scale(max(1, min(current.pollers, seen.in_flight or current.pollers) // 2), now, now)
    pollers = min(current.pollers, limit)
    if seen.errors:
        return Scale(max(min(START, limit), pollers // 2), now, current.throttled_at)
    if seen.backlog == 0:
        return Scale(max(min(START, limit), min(pollers, seen.in_flight)), now, current.throttled_at)
    holding = current.throttled_at is not None and now - current.throttled_at < THROTTLE_HOLD_S
    if holding:
        return Scale(pollers, now, current.throttled_at)
    if pollers < min(START, limit):
        return Scale(min(START, limit), now, current.throttled_at)
    if seen.in_flight < pollers:  # idle pollers remain: no reason to add more
        return Scale(pollers, now, current.throttled_at)
    grow = int((now - current.grown_at) * RAMP_PER_S)
    if grow < 1:
        return Scale(pollers, current.grown_at, current.throttled_at)
    return Scale(min(limit, pollers + grow), now, current.throttled_at)
