"""Event patterns: EventBridge's content-filtering syntax compiled once (`compile_pattern`), then matched
against events (`Pattern.matches`).

A pattern is an object mirroring the event: each field it names must match (AND); a leaf is an array of
values and operators, any of which may match (OR); `$or` lists alternative objects. An event's array matches
a leaf when any member does, and an array of objects matches a nested pattern when one object matches all
of it (fields of different members never combine). Dotted keys are nested fields (`"detail.state"` is
`"detail": {"state": ...}`), and of a key given twice the last one counts, as AWS documents.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambkin.events.bridge import values
from lambkin.events.bridge.errors import InvalidPattern
from lambkin.events.bridge.values import Matcher, Number, Scalar

MAX_COMBINATIONS = 1000  # $or branches a pattern may expand to
_OPERATORS = frozenset(
    {"anything-but", "prefix", "suffix", "equals-ignore-case", "wildcard", "numeric", "exists", "cidr"}
)
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Leaf:
    """One field's accepted values: any matcher accepting any of the event's values, or `exists`. Exact
    strings, the commonest values, are looked up in a set."""

    matchers: tuple[Matcher, ...]
    exists: frozenset[bool] = frozenset()
    strings: frozenset[str] = frozenset()

    def accepts(self, found: list[Scalar]) -> bool:
        if (bool(found)) in self.exists:
            return True
        strings = self.strings
        for value in found:
            if value.__class__ is str and value in strings:
                return True
            for matcher in self.matchers:
                if matcher.test(value):
                    return True
        return False


@dataclass(frozen=True, slots=True)
class Pattern:
    """Fields that must all match, and groups of alternatives ($or) of which one each must."""

    fields: tuple[tuple[str, Leaf | Pattern], ...]
    alternatives: tuple[tuple[Pattern, ...], ...] = ()

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether `event` (read by `values.loads`, or made of `values.scalar` values) matches."""
        for name, node in self.fields:
            found = event.get(name, _MISSING)
            if isinstance(node, Leaf):
                if not node.accepts(_leaves(found)):
                    return False
            elif not any(node.matches(member) for member in _objects(found) or ({},)):
                return False
        return all(any(choice.matches(event) for choice in group) for group in self.alternatives)

    def combinations(self) -> int:
        count = 1
        for _, node in self.fields:
            if isinstance(node, Pattern):
                count *= node.combinations()
        for group in self.alternatives:
            count *= sum(choice.combinations() for choice in group)
        return count


def _leaves(found: object) -> list[Scalar]:
    """The scalars of an event's value: itself, or every scalar of an array (objects are no leaves)."""
    if found is _MISSING or isinstance(found, dict):
        return []
    if isinstance(found, list):
        return [leaf for member in found for leaf in _leaves(member)]
    return [found]  # type: ignore[list-item]


def _objects(found: object) -> list[Mapping[str, Any]]:
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list):
        return [member for item in found for member in _objects(item)]
    return []


def compile_pattern(text: str) -> Pattern:
    """The compiled pattern of a JSON text; InvalidPattern (AWS's InvalidEventPatternException) else."""
    try:
        document = values.loads(text)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InvalidPattern(f"Filter is not valid JSON: {reason}") from None
    if not isinstance(document, dict):
        raise InvalidPattern("Filter is not an object")
    pattern = _object(document, inside_or=False)
    if pattern.combinations() > MAX_COMBINATIONS:
        raise InvalidPattern(f"The rule has more than {MAX_COMBINATIONS} combinations of $or branches")
    return pattern


def _nested(document: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested objects, merged with their siblings (the later key wins on a clash)."""
    result: dict[str, Any] = {}
    for key, value in document.items():
        path = key.split(".") if key != "$or" else [key]
        target = result
        for step in path[:-1]:
            if not isinstance(target.get(step), dict):
                target[step] = {}
            target = target[step]
        last = path[-1]
        if isinstance(value, dict) and isinstance(target.get(last), dict):
            target[last] = {**target[last], **value}
        else:
            target[last] = value
    return result


def _object(document: dict[str, Any], inside_or: bool) -> Pattern:
    if not document:
        raise InvalidPattern("Empty objects are not allowed")
    fields: list[tuple[str, Leaf | Pattern]] = []
    alternatives: list[tuple[Pattern, ...]] = []
    for name, value in _nested(document).items():
        if name == "$or":
            alternatives.append(_alternatives(value))
            continue
        if inside_or and name in _OPERATORS:
            raise InvalidPattern(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
        if isinstance(value, dict):
            fields.append((name, _object(value, inside_or)))
        elif isinstance(value, list):
            fields.append((name, _leaf(value)))
        else:
            raise InvalidPattern(f'"{name}" must be an object or an array')
    return Pattern(tuple(fields), tuple(alternatives))


def _alternatives(value: Any) -> tuple[Pattern, ...]:
    if not isinstance(value, list):
        raise InvalidPattern("It must be an Array followed with $or.")
    if not all(isinstance(choice, dict) for choice in value):
        raise InvalidPattern("Only JSON object is allowed in array of $or relationship.")
    if len(value) < 2:
        raise InvalidPattern("There must have at least 2 Objects in $or relationship.")
    return tuple(_object(choice, inside_or=True) for choice in value)


def _leaf(members: list[Any]) -> Leaf:
    if not members:
        raise InvalidPattern("Empty arrays are not allowed")
    matchers: list[Matcher] = []
    exists: set[bool] = set()
    strings: set[str] = set()
    for member in members:
        if isinstance(member, dict):
            operator, matcher = _operator(member)
            if operator == "exists":
                exists.add(matcher)
            else:
                matchers.append(matcher)
        elif isinstance(member, str):
            ip = values.address(member)
            if ip is None:
                strings.add(member)
            else:
                matchers.append(ip)
        elif member is None or isinstance(member, bool | Number):
            matchers.append(values.Exact(member))
        else:
            raise InvalidPattern("Match value must be String, number, true, false, or null")
    return Leaf(tuple(matchers), frozenset(exists), frozenset(strings))


def _operator(expression: dict[str, Any]) -> tuple[str, Any]:
    """An operator object's name and its matcher (for `exists`, the bool it asks for)."""
    if not expression:
        raise InvalidPattern("Match expression name not found")
    if len(expression) > 1:
        raise InvalidPattern("Only one key allowed in match expression")
    ((name, argument),) = expression.items()
    try:
        return name, _build(name, argument)
    except ValueError as exc:
        raise InvalidPattern(str(exc)) from None


def _build(name: str, argument: Any) -> Any:
    match name:
        case "prefix" | "suffix":
            fold = _folded(argument, name)
            text = _string(fold if fold is not None else argument, f"{name} match pattern")
            return (
                values.Prefix(text, fold is not None)
                if name == "prefix"
                else values.Suffix(text, fold is not None)
            )
        case "equals-ignore-case":
            return values.EqualsIgnoreCase(_string(argument, "equals-ignore-case match pattern"))
        case "wildcard":
            return values.wildcard(_string(argument, "wildcard match pattern"))
        case "cidr":
            return values.cidr(_string(argument, "cidr match pattern"))
        case "numeric":
            return _numeric(argument)
        case "exists":
            if not isinstance(argument, bool):
                raise ValueError("exists match pattern must be either true or false.")
            return argument
        case "anything-but":
            return _anything_but(argument)
    raise ValueError(f"Unrecognized match type {name}")


def _string(argument: Any, what: str) -> str:
    if not isinstance(argument, str):
        raise ValueError(f"{what} must be a string")
    return argument


def _folded(argument: Any, name: str) -> Any:
    """The text of `{"equals-ignore-case": text}` given to prefix or suffix, else None."""
    if not isinstance(argument, dict):
        return None
    if list(argument) != ["equals-ignore-case"]:
        what = next(iter(argument), "")
        raise ValueError(f"Unsupported {name} pattern: {what}")
    return argument["equals-ignore-case"]


_LOWER = {">": False, ">=": True}
_UPPER = {"<": False, "<=": True}


def _numeric(argument: Any) -> values.Numeric:
    if not isinstance(argument, list) or not argument:
        raise ValueError("Value of numeric must be an array.")
    if len(argument) % 2 or len(argument) > 4:
        raise ValueError("Too many elements in numeric expression")
    pairs = [(argument[i], argument[i + 1]) for i in range(0, len(argument), 2)]
    bounds: dict[str, tuple[float, bool]] = {}
    for operator, operand in pairs:
        if not isinstance(operand, Number):
            raise ValueError(f"Value of {operator} must be numeric")
        if operator == "=":
            if len(pairs) > 1:
                raise ValueError("Too many elements in numeric expression")
            return values.Numeric(operand.value, True, operand.value, True)
        side = "low" if operator in _LOWER else "high" if operator in _UPPER else None
        if side is None:
            raise ValueError(f"Unrecognized numeric range operator: {operator}")
        if side in bounds:
            raise ValueError(f"Bad numeric range: {operator} given after another {side} bound")
        inclusive = _LOWER.get(operator, _UPPER.get(operator, False))
        bounds[side] = (operand.value, inclusive)
    low, high = bounds.get("low"), bounds.get("high")
    if low is not None and high is not None and low[0] >= high[0]:
        raise ValueError("Bottom must be less than top")
    return values.Numeric(
        low[0] if low else None,
        low[1] if low else False,
        high[0] if high else None,
        high[1] if high else False,
    )


def _anything_but(argument: Any) -> values.AnythingBut:
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise ValueError("Only one key allowed in match expression")
        ((name, inner),) = argument.items()
        if name not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise ValueError(f"Unsupported anything-but pattern: {name}")
        texts = inner if isinstance(inner, list) else [inner]
        if not texts or not all(isinstance(text, str) for text in texts):
            raise ValueError(f"Inside anything-but/{name} list, only strings are supported.")
        if name in ("prefix", "suffix") and "" in texts:
            raise ValueError("Null prefix/suffix not allowed")
        return values.AnythingBut(tuple(_build(name, text) for text in texts))
    listed = argument if isinstance(argument, list) else [argument]
    if any(member is None or isinstance(member, bool | dict | list) for member in listed):
        raise ValueError("Inside anything but list, start|null|boolean is not supported.")
    numbers = all(isinstance(member, Number) for member in listed)
    if not listed or (not numbers and not all(isinstance(member, str) for member in listed)):
        raise ValueError(
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        )
    if numbers:
        return values.AnythingBut(
            tuple(values.SameNumber(member.value) for member in listed), numbers_only=True
        )
    return values.AnythingBut(tuple(values.Exact(member) for member in listed))


def matches(pattern: Pattern, event: Mapping[str, Any]) -> bool:
    """`pattern.matches(event)` for an event of plain Python values (numbers as int or float)."""
    return pattern.matches(values.scalar(dict(event)))
