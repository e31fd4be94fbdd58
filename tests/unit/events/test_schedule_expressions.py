"""Schedule expressions as EventBridge and Scheduler document them: rate's singular and plural, the six cron
fields with `L`, `W`, `#` and year ranges, at(), time zones, and daylight saving (a skipped time does not
fire, a repeated one fires once)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambkin.events.schedules.expressions import ExpressionError, next_firing, parse, zone


def firings(expression: str, after: str, tz: str = "UTC", count: int = 3) -> list[str]:
    parsed, zone_info = parse(expression, allow_at=True), zone(tz)
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC).timestamp()
    found: list[str] = []
    for _ in range(count):
        following = next_firing(parsed, moment, zone_info, 0.0)
        if following is None:
            break
        found.append(datetime.fromtimestamp(following, zone_info).isoformat())
        moment = following
    return found


@pytest.mark.parametrize(
    ("expression", "after", "tz", "expected"),
    [
        (
            "cron(0 12 * * ? *)",
            "2026-01-01T13:00:00",
            "UTC",
            ["2026-01-02T12:00:00+00:00", "2026-01-03T12:00:00+00:00"],
        ),
        (
            "cron(15 10 ? * 6L 2019-2022)",
            "2021-01-01T00:00:00",
            "UTC",
            ["2021-01-29T10:15:00+00:00", "2021-02-26T10:15:00+00:00"],
        ),
        (
            "cron(0/5 8-17 ? * MON-FRI *)",
            "2024-01-05T17:50:00",
            "UTC",
            ["2024-01-05T17:55:00+00:00", "2024-01-08T08:00:00+00:00"],
        ),
        (
            "cron(0 9 3W * ? *)",
            "2024-02-01T00:00:00",
            "UTC",
            ["2024-02-02T09:00:00+00:00", "2024-03-04T09:00:00+00:00"],
        ),
        (
            "cron(0 9 LW * ? *)",
            "2024-02-01T00:00:00",
            "UTC",
            ["2024-02-29T09:00:00+00:00", "2024-03-29T09:00:00+00:00"],
        ),
        (
            "cron(0 9 ? * 3#2 *)",
            "2024-02-01T00:00:00",
            "UTC",
            ["2024-02-13T09:00:00+00:00", "2024-03-12T09:00:00+00:00"],
        ),
        (
            "cron(0 0 L * ? *)",
            "2024-01-15T00:00:00",
            "UTC",
            ["2024-01-31T00:00:00+00:00", "2024-02-29T00:00:00+00:00"],
        ),
        ("cron(0 10 ? JAN-MAR MON 2024)", "2024-03-20T00:00:00", "UTC", ["2024-03-25T10:00:00+00:00"]),
        # Spring forward in New York: 02:30 does not exist on 10 March 2024, and is skipped.
        (
            "cron(30 2 * * ? *)",
            "2024-03-09T00:00:00",
            "America/New_York",
            ["2024-03-09T02:30:00-05:00", "2024-03-11T02:30:00-04:00"],
        ),
        # Fall back: 01:30 happens twice on 3 November 2024, and fires once.
        (
            "cron(30 1 * * ? *)",
            "2024-11-02T12:00:00",
            "America/New_York",
            ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"],
        ),
        ("at(2024-05-01T10:00:00)", "2024-01-01T00:00:00", "Europe/Paris", ["2024-05-01T10:00:00+02:00"]),
        (
            "rate(5 minutes)",
            "2024-01-01T00:00:00",
            "UTC",
            ["2024-01-01T00:05:00+00:00", "2024-01-01T00:10:00+00:00"],
        ),
    ],
)
def test_an_expression_fires_at_the_documented_times(
    expression: str, after: str, tz: str, expected: list[str]
) -> None:
    assert firings(expression, after, tz, len(expected)) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0 12 * * * *)",  # neither day field is ?
        "cron(0 12 ? * ? *)",  # both are
        "cron(0 12 * *)",
        "cron(61 12 * * ? *)",
        "cron(0 12 * 13 ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 * * ? 1969)",
        "at(2024-05-01)",
        "every minute",
    ],
)
def test_an_expression_aws_refuses_is_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        parse(expression, allow_at=True)


def test_at_is_schedulers_alone_and_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ExpressionError):
        parse("at(2024-05-01T10:00:00)")
    with pytest.raises(ExpressionError):
        zone("Mars/Olympus_Mons")
