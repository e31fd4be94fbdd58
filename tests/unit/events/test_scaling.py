"""Scaling decisions: start at 5, grow up to 300 a minute while messages wait, caps, throttles, idle."""

from __future__ import annotations

from lambkin.events.scaling import START, Observation, Scale, cap, decide, initial

T0 = 1000.0


def busy(pollers: int, backlog: int = 1000) -> Observation:
    return Observation(backlog=backlog, in_flight=pollers, throttles=0)


def test_starts_at_five_within_the_limit() -> None:
    assert initial(T0, 1000).pollers == START == 5
    assert initial(T0, 2).pollers == 2


def test_caps_are_maximum_concurrency_and_reserved_concurrency() -> None:
    assert cap(None, None) == 1000
    assert cap(50, None) == 50
    assert cap(50, 10) == 10
    assert cap(None, 0) == 0


def test_grows_by_up_to_300_a_minute_while_every_poller_is_busy() -> None:
    scale = initial(T0, 1000)
    scale = decide(scale, T0 + 1, busy(5), 1000)
    assert scale.pollers == 10  # 5 a second
    scale = decide(scale, T0 + 61, busy(10), 1000)
    assert scale.pollers == 310  # a minute later: 300 more
    assert decide(scale, T0 + 61.1, busy(310), 1000).pollers == 310  # less than one poller's worth of time


def test_growth_stops_at_the_limit() -> None:
    scale = decide(initial(T0, 8), T0 + 60, busy(5), 8)
    assert scale.pollers == 8


def test_no_growth_while_pollers_are_idle_or_nothing_waits() -> None:
    scale = Scale(40, T0)
    assert decide(scale, T0 + 10, Observation(1000, 12, 0), 1000).pollers == 40
    assert decide(scale, T0 + 10, Observation(0, 12, 0), 1000).pollers == 12
    assert decide(scale, T0 + 10, Observation(0, 0, 0), 1000).pollers == START


def test_throttles_halve_and_hold_growth() -> None:
    scale = decide(Scale(40, T0), T0 + 1, Observation(1000, 40, throttles=3), 1000)
    assert scale.pollers == 20
    held = decide(scale, T0 + 5, busy(20), 1000)
    assert held.pollers == 20
    grown = decide(held, T0 + 20, busy(20), 1000)
    assert grown.pollers > 20


def test_throttled_never_below_one_and_a_zero_limit_stops_polling() -> None:
    assert decide(Scale(1, T0), T0 + 1, Observation(10, 1, 1), 1000).pollers == 1
    assert decide(Scale(5, T0), T0 + 1, busy(5), 0).pollers == 0


def test_function_errors_halve_down_to_start_without_growth() -> None:
    assert decide(Scale(40, T0), T0 + 30, Observation(1000, 40, 0, errors=2), 1000).pollers == 20
    assert decide(Scale(6, T0), T0 + 30, Observation(1000, 6, 0, errors=1), 1000).pollers == START
