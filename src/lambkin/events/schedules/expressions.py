"""Schedule expressions — `rate(...)`, `cron(...)` (EventBridge's six fields) and Scheduler's `at(...)` —
parsed once, and the next firing after a time in a time zone.

Cron times are found by python-dateutil's `rrule` (minutes, hours, months, days of month and week, `L` and
`#`); the year and `W` (nearest weekday) filter its days. Wall times come from zoneinfo: a time the clocks
skip (spring forward) does not fire, a time they repeat (fall back) fires once, as Scheduler documents.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_WEEKDAYS = (rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA)  # by EventBridge number
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_HORIZON_YEARS = 8  # a cron expression that fires in none of the next years' days fires never
YEARS = (1970, 2199)


class ExpressionError(ValueError):
    """A schedule expression AWS refuses."""


@dataclass(frozen=True, slots=True)
class Rate:
    seconds: int


@dataclass(frozen=True, slots=True)
class At:
    when: datetime  # naive, in the schedule's time zone


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: frozenset[int] | None  # None: every year
    monthdays: tuple[int, ...] | None  # -1 for L; None: any (the field was ?)
    weekdays: tuple[rrule.weekday, ...] | None  # with n for L (-1) and # (n); None: any
    nearest_weekday: int | None = None  # W: the day of month whose nearest weekday fires
    last_weekday: bool = False  # LW


Expression = Rate | At | Cron


def parse(text: str, allow_at: bool = False) -> Expression:
    """The expression of `text`; ExpressionError if it is not valid."""
    text = text.strip()
    if text.startswith("rate("):
        match = _RATE.match(text)
        if match is None:
            raise ExpressionError(text)
        value, unit = int(match.group(1)), match.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ExpressionError(text)
        return Rate(value * _UNIT[unit.rstrip("s")])
    if text.startswith("cron(") and text.endswith(")"):
        return _cron(text[5:-1].split())
    if allow_at and text.startswith("at(") and text.endswith(")"):
        try:
            return At(datetime.strptime(text[3:-1], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise ExpressionError(text) from None
    raise ExpressionError(text)


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone of a name (UTC when none); ExpressionError if there is none of that name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(f"Invalid time zone: {name}") from None


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> tuple[int, ...]:
    """The values of a field of `, - * /` (names for months and days)."""
    found: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, 1, high - low + 1, None) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high, names), _number(last, low, high, names)
        else:
            start = _number(base, low, high, names)
            end = high if step_text else start
        if start > end:
            raise ExpressionError(field)
        found.update(range(start, end + 1, step))
    return tuple(sorted(found))


def _number(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ExpressionError(text)
    return int(text)


def _cron(fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ExpressionError(" ".join(fields))
    minute, hour, monthday, month, weekday, year = fields
    if (monthday == "?") == (weekday == "?"):
        raise ExpressionError("one of day-of-month and day-of-week must be ?")
    cron = Cron(
        minutes=_values(minute, 0, 59),
        hours=_values(hour, 0, 23),
        months=_values(month, 1, 12, MONTHS),
        years=None if year == "*" else frozenset(_values(year, *YEARS)),
        monthdays=None,
        weekdays=None,
    )
    if monthday != "?":
        return _with_monthday(cron, monthday)
    return _with_weekday(cron, weekday)


def _with_monthday(cron: Cron, field: str) -> Cron:
    if field == "*":
        return replace(cron, monthdays=tuple(range(1, 32)))
    if field == "L":
        return replace(cron, monthdays=(-1,))
    if field == "LW":
        return replace(cron, monthdays=(-1,), last_weekday=True)
    if field.endswith("W"):
        day = _number(field[:-1], 1, 31, None)
        return replace(cron, monthdays=(day,), nearest_weekday=day)
    return replace(cron, monthdays=_values(field, 1, 31))


def _with_weekday(cron: Cron, field: str) -> Cron:
    if field.endswith("L") and len(field) > 1:
        day = _number(field[:-1], 1, 7, DAYS)
        return replace(cron, weekdays=(_WEEKDAYS[day - 1](-1),))
    if field == "L":
        return replace(cron, weekdays=(rrule.SA,))
    if "#" in field:
        day_text, _, nth_text = field.partition("#")
        day, nth = _number(day_text, 1, 7, DAYS), _number(nth_text, 1, 5, None)
        return replace(cron, weekdays=(_WEEKDAYS[day - 1](nth),))
    return replace(cron, weekdays=tuple(_WEEKDAYS[day - 1] for day in _values(field, 1, 7, DAYS)))


def next_cron(cron: Cron, after: float, tz: ZoneInfo) -> float | None:
    """The first time (epoch seconds) strictly after `after` at which `cron` fires in `tz`, or None."""
    start = datetime.fromtimestamp(after, UTC).astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    start -= timedelta(hours=3)  # a fall-back hour seen again in wall time is still searched
    horizon = min(start.year + _HORIZON_YEARS, YEARS[1])
    for day in _days(cron, start.replace(hour=0, minute=0)):
        if day.year > horizon:
            return None
        if cron.years is not None and day.year not in cron.years:
            continue
        for hour in cron.hours:
            for minute in cron.minutes:
                moment = _instant(day.replace(hour=hour, minute=minute), tz)
                if moment is not None and moment > after:
                    return moment
    return None


def _days(cron: Cron, start: datetime) -> Iterator[datetime]:
    """The days (at midnight, from `start` on) on which `cron` fires, by rrule's monthly rules."""
    weekdays_only = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR)
    if cron.nearest_weekday is not None:
        for first in rrule.rrule(rrule.MONTHLY, dtstart=start.replace(day=1), bymonth=cron.months):
            day = _nearest_weekday(first.year, first.month, cron.nearest_weekday)
            if day is not None and first.replace(day=day) >= start:
                yield first.replace(day=day)
        return
    if cron.last_weekday:
        yield from rrule.rrule(
            rrule.MONTHLY,
            dtstart=start,
            bymonth=cron.months,
            bymonthday=(-1, -2, -3),
            byweekday=weekdays_only,
            bysetpos=-1,
        )
        return
    yield from rrule.rrule(
        rrule.MONTHLY, dtstart=start, bymonth=cron.months, bymonthday=cron.monthdays, byweekday=cron.weekdays
    )


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    """`dayW`: the weekday nearest the day in its month, never crossing into another month."""
    length = calendar.monthrange(year, month)[1]
    if day > length:
        return None
    weekday = calendar.weekday(year, month, day)  # Monday 0
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < length else day - 2
    return day


def _instant(wall: datetime, tz: ZoneInfo) -> float | None:
    """The epoch seconds of a wall time in `tz`: None for a time the clocks skip; the first of a repeated one."""
    moment = wall.replace(tzinfo=tz, fold=0)
    back = moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != wall:
        return None
    return moment.timestamp()


def next_firing(expression: Expression, after: float, tz: ZoneInfo, anchor: float) -> float | None:
    """The next firing strictly after `after`: a rate's every `seconds` from `anchor`, an at's once, a
    cron's by its fields in `tz`."""
    match expression:
        case Rate(seconds):
            if after < anchor:
                return anchor
            return anchor + (int((after - anchor) // seconds) + 1) * seconds
        case At(when):
            moment = _instant(when, tz)
            return moment if moment is not None and moment > after else None
        case Cron():
            return next_cron(expression, after, tz)
    assert_never(expression)
