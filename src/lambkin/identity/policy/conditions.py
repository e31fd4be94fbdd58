"""The Condition element: its operators compiled once, and whether a condition holds in a request context.

AWS's rules (IAM JSON policy elements: condition operators): several values under one key are ORed, several
keys and operators ANDed; keys are case-insensitive. A key missing from the request makes a condition false,
except for the negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...), which are then true,
`...IfExists`, which is then true, and `Null`, which tests exactly that. `ForAnyValue:` holds when some value
of a multivalued key matches (false when the key is missing), `ForAllValues:` when every one does (true when
the key is missing or empty).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol

from lambkin.identity.policy.matching import (
    Context,
    Literal,
    PatternSet,
    compile_patterns,
    substitute,
    template,
)


class BadValue(ValueError):
    """A condition value its operator cannot read (the parser reports the position)."""


class Qualifier(Enum):
    SINGLE = ""
    ANY = "ForAnyValue"
    ALL = "ForAllValues"


class Test(Protocol):
    """Whether one request value matches any of the condition's values."""

    def __call__(self, value: str, context: Context) -> bool: ...


@dataclass(frozen=True, slots=True)
class Condition:
    """One key under one operator, compiled."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # lower-cased
    test: Test
    negated: bool = False
    qualifier: Qualifier = Qualifier.SINGLE
    if_exists: bool = False

    def holds(self, context: Context) -> bool:
        values = context.get(self.key)
        if not values:
            if self.if_exists or self.qualifier is Qualifier.ALL:
                return True
            return self.negated and self.qualifier is Qualifier.SINGLE
        satisfied = (self.test(value, context) != self.negated for value in values)
        if self.qualifier is Qualifier.ALL or (self.qualifier is Qualifier.SINGLE and self.negated):
            return all(satisfied)
        return any(satisfied)


@dataclass(frozen=True, slots=True)
class NullCheck:
    """`Null`: whether the key is absent ("true") or present ("false")."""

    operator: str
    key: str  # lower-cased
    absent: tuple[bool, ...]

    def holds(self, context: Context) -> bool:
        return (not context.get(self.key)) in self.absent


@dataclass(frozen=True, slots=True)
class _Equals:
    values: tuple[tuple[Literal, ...], ...]
    fold: bool

    def __call__(self, value: str, context: Context) -> bool:
        wanted = value.casefold() if self.fold else value
        for literal in self.values:
            text = substitute(literal, context)
            if text is not None and (text.casefold() if self.fold else text) == wanted:
                return True
        return False


@dataclass(frozen=True, slots=True)
class _Like:
    patterns: PatternSet

    def __call__(self, value: str, context: Context) -> bool:
        return self.patterns.matches(value, context)


@dataclass(frozen=True, slots=True)
class _Compare:
    values: tuple[float, ...]
    compare: Callable[[float, float], bool]
    read: Callable[[str], float]

    def __call__(self, value: str, context: Context) -> bool:
        try:
            number = self.read(value)
        except BadValue:
            return False
        return any(self.compare(number, wanted) for wanted in self.values)


@dataclass(frozen=True, slots=True)
class _Ip:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def __call__(self, value: str, context: Context) -> bool:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        return any(address in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class _Exact:
    values: frozenset[str]
    normalize: Callable[[str], str]

    def __call__(self, value: str, context: Context) -> bool:
        return self.normalize(value) in self.values


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadValue(text) from None


def _date(text: str) -> float:
    """Epoch seconds of an ISO 8601 date or date-time (UTC unless it says otherwise), or of epoch seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(text) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise BadValue(text) from None


def _base64(text: str) -> str:
    try:
        return base64.b64encode(base64.b64decode(text, validate=True)).decode()
    except (binascii.Error, ValueError):
        return text


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,  # negated
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}

# operator (names are case-sensitive) -> whether it is negated
_OPERATORS: dict[str, bool] = {
    "StringEquals": False,
    "StringNotEquals": True,
    "StringEqualsIgnoreCase": False,
    "StringNotEqualsIgnoreCase": True,
    "StringLike": False,
    "StringNotLike": True,
    **{f"Numeric{suffix}": suffix == "NotEquals" for suffix in _COMPARISONS},
    **{f"Date{suffix}": suffix == "NotEquals" for suffix in _COMPARISONS},
    "Bool": False,
    "BinaryEquals": False,
    "IpAddress": False,
    "NotIpAddress": True,
    "ArnEquals": False,
    "ArnLike": False,
    "ArnNotEquals": True,
    "ArnNotLike": True,
    "Null": False,
}


class UnknownOperator(ValueError):
    """Not a condition operator IAM knows."""


def compile_condition(
    written: str, key: str, values: Sequence[str], *, variables: bool
) -> Condition | NullCheck:
    """One key's condition; raises UnknownOperator or BadValue (values: the JSON values as text)."""
    qualifier = Qualifier.SINGLE
    name = written
    prefix, colon, rest = written.partition(":")
    if colon:
        matched = [q for q in (Qualifier.ANY, Qualifier.ALL) if q.value == prefix]
        if not matched:
            raise UnknownOperator(written)
        qualifier, name = matched[0], rest
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name.removesuffix("IfExists") if if_exists else name
    negated = _OPERATORS.get(base)
    if negated is None or (if_exists and base == "Null"):
        raise UnknownOperator(written)
    lowered = key.lower()
    if base == "Null":
        return NullCheck(written, lowered, tuple(_boolean(value) for value in values))
    test = _test(base, values, variables=variables)
    return Condition(written, lowered, test, negated, qualifier, if_exists)


def _boolean(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise BadValue(value)
    return value.lower() == "true"


def _test(canonical: str, values: Sequence[str], *, variables: bool) -> Test:
    if canonical.startswith("String"):
        if canonical.endswith("Like"):
            return _Like(compile_patterns(values, variables=variables, arn=False, fold=False))
        literals = tuple(template(value, variables=variables) for value in values)
        return _Equals(literals, fold=canonical.endswith("IgnoreCase"))
    if canonical.startswith("Arn"):
        return _Like(compile_patterns(values, variables=variables, arn=True, fold=False))
    if canonical.startswith(("Numeric", "Date")):
        read = _number if canonical.startswith("Numeric") else _date
        suffix = canonical.removeprefix("Numeric").removeprefix("Date")
        return _Compare(tuple(read(value) for value in values), _COMPARISONS[suffix], read)
    if canonical == "Bool":
        return _Exact(frozenset(value.lower() for value in values), str.lower)
    if canonical == "BinaryEquals":
        return _Exact(frozenset(_base64(value) for value in values), _base64)
    return _Ip(tuple(_network(value) for value in values))  # IpAddress, NotIpAddress
