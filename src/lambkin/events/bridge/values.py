"""The leaf matchers of event patterns: one test of one JSON scalar each (exact, prefix, suffix,
equals-ignore-case, wildcard, numeric range, CIDR, anything-but), and JSON read so numbers keep their text.

An event's numbers are `Number`s: exact matching compares their written form (AWS: "300, 300.0 and 3.0e2
are not equal"), numeric and anything-but matching their value.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from lambkin import json_depth


@dataclass(frozen=True, slots=True)
class Number:
    """A JSON number as written, with its value."""

    text: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Number:
        return cls(text, float(text))


Scalar = str | Number | bool | None


def loads(text: str | bytes) -> Any:
    """JSON as patterns see it: numbers as `Number`, NaN and Infinity refused, and so what nests deeper than
    json_depth.MAX_DEPTH (ValueError)."""
    if json_depth.too_deep(text):
        raise json_depth.TooDeep()

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_int=Number.parse, parse_float=Number.parse, parse_constant=constant)


def plain(value: Any) -> Any:
    """A value read by `loads` with its numbers as Python numbers again (to deliver or render it)."""
    if isinstance(value, Number):
        number = json.loads(value.text)
        return number if not isinstance(number, float) or math.isfinite(number) else value.value
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def scalar(value: Any) -> Any:
    """A Python value in patterns' terms: int and float become `Number` (events built in lambkin)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | Number):
        return value
    if isinstance(value, int | float):
        return Number(json.dumps(value), float(value))
    if isinstance(value, dict):
        return {key: scalar(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scalar(item) for item in value]
    return value


class Matcher(Protocol):
    def test(self, value: Scalar) -> bool: ...


@dataclass(frozen=True, slots=True)
class Exact:
    """Equal in type and form: strings character by character, numbers by their text."""

    value: Scalar

    def test(self, value: Scalar) -> bool:
        if isinstance(self.value, Number):
            return isinstance(value, Number) and value.text == self.value.text
        return type(value) is type(self.value) and value == self.value


@dataclass(frozen=True, slots=True)
class Address:
    """A pattern string that is an IP address: equal to the same address however the event writes it."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address

    def test(self, value: Scalar) -> bool:
        return isinstance(value, str) and _address(value) == self.address


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str
    fold: bool = False

    def test(self, value: Scalar) -> bool:
        if not isinstance(value, str):
            return False
        return value.casefold().startswith(self.text.casefold()) if self.fold else value.startswith(self.text)


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str
    fold: bool = False

    def test(self, value: Scalar) -> bool:
        if not isinstance(value, str):
            return False
        return value.casefold().endswith(self.text.casefold()) if self.fold else value.endswith(self.text)


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str

    def test(self, value: Scalar) -> bool:
        return isinstance(value, str) and value.casefold() == self.text.casefold()


@dataclass(frozen=True, slots=True)
class Wildcard:
    """`*` any run of characters (none too); `\\*` a star, `\\\\` a backslash."""

    regex: re.Pattern[str]

    def test(self, value: Scalar) -> bool:
        return isinstance(value, str) and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Numeric:
    """A number within a range; a bound of None is open."""

    low: float | None = None
    low_inclusive: bool = False
    high: float | None = None
    high_inclusive: bool = False

    def test(self, value: Scalar) -> bool:
        if not isinstance(value, Number):
            return False
        v = value.value
        if self.low is not None and (v < self.low or (v == self.low and not self.low_inclusive)):
            return False
        return self.high is None or v < self.high or (v == self.high and self.high_inclusive)


@dataclass(frozen=True, slots=True)
class Cidr:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def test(self, value: Scalar) -> bool:
        if not isinstance(value, str):
            return False
        address = _address(value)
        return address is not None and address.version == self.network.version and address in self.network


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """Any value that none of `excluded` accepts; numeric lists only ever accept numbers."""

    excluded: tuple[Matcher, ...]
    numbers_only: bool = False

    def test(self, value: Scalar) -> bool:
        if self.numbers_only and not isinstance(value, Number):
            return False
        return not any(matcher.test(value) for matcher in self.excluded)


@dataclass(frozen=True, slots=True)
class SameNumber:
    """Numerically equal (anything-but's number lists compare values, not text)."""

    value: float

    def test(self, value: Scalar) -> bool:
        return isinstance(value, Number) and value.value == self.value


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address(text: str) -> Address | None:
    """The Address matcher of a pattern string that is an IP address, else None."""
    parsed = _address(text)
    return None if parsed is None else Address(parsed)


def wildcard(text: str) -> Wildcard:
    """The Wildcard of a pattern; ValueError (Ruler's reason) for `**` or an escape of anything but `*`/`\\`."""
    parts: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            following = text[i + 1 : i + 2]
            if following not in ("*", "\\"):
                raise ValueError(f"Invalid escape character at pos {i}")
            parts.append(re.escape(following))
            i += 2
            continue
        if char == "*":
            if text[i + 1 : i + 2] == "*":
                raise ValueError(f"Consecutive wildcard characters at pos {i + 1}")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        i += 1
    return Wildcard(re.compile("".join(parts), re.DOTALL))


def cidr(text: str) -> Cidr:
    """The Cidr of `a.b.c.d/n` or an IPv6 one; ValueError if it is none."""
    if "/" not in text:
        raise ValueError(f"Malformed CIDR, one '/' required: {text}")
    try:
        return Cidr(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValueError(f"Nonstandard IP address: {text.split('/', 1)[0]}") from None
