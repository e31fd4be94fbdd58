"""Checks an input dict against its shape: required members, lengths, ranges, enums and patterns."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape, StructureShape

_MAX_PROBLEMS = 10


@dataclass(frozen=True)
class Problem:
    """One violated constraint, in the terms AWS's validation messages use."""

    path: str  # "memorySize", "environment.variables"
    value: Any  # None when missing
    constraint: str  # "Member must have value greater than or equal to 128"

    @property
    def missing(self) -> bool:
        return self.value is None

    def describe(self) -> str:
        shown = "null" if self.value is None else f"'{_show(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def validate(shape: StructureShape | None, value: dict[str, Any]) -> list[Problem]:
    """Every constraint the input breaks (at most ten), in member order."""
    problems: list[Problem] = []
    if shape is not None:
        _structure(shape, value, "", problems)
    return problems[:_MAX_PROBLEMS]


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "java.nio.HeapByteBuffer"
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _structure(shape: StructureShape, value: dict[str, Any], path: str, problems: list[Problem]) -> None:
    plan = _members(shape)
    for name, shown in plan.required:
        if value.get(name) is None:
            problems.append(Problem(f"{path}.{shown}" if path else shown, None, "Member must not be null"))
    checked = plan.checked
    for name, item in value.items():
        found = checked.get(name)
        if found is not None and item is not None:
            member, shown = found
            _check(member, item, f"{path}.{shown}" if path else shown, problems)


def _check(shape: Shape, value: Any, path: str, problems: list[Problem]) -> None:
    if len(problems) >= _MAX_PROBLEMS:
        return
    broken = constraints(shape, value)
    if broken:
        problems.extend(Problem(path, value, constraint) for constraint in broken)
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        _structure(shape, value, path, problems)
    elif kind == "list":
        inner: list[str] = []
        for index, item in enumerate(value, 1):
            if item is None:
                continue
            if shape.member.type_name in _CONTAINERS:
                _check(shape.member, item, f"{path}.{index}.member", problems)
            else:
                inner.extend(constraints(shape.member, item))
        if inner:
            problems.append(Problem(path, value, f"Member must satisfy constraint: [{inner[0]}]"))
    elif kind == "map":
        keys: list[str] = []
        values: list[str] = []
        for key, item in value.items():
            keys.extend(constraints(shape.key, key))
            if item is None:
                continue
            if shape.value.type_name in _CONTAINERS:
                _check(shape.value, item, f"{path}.{key}", problems)
            else:
                values.extend(constraints(shape.value, item))
        if keys:
            problems.append(Problem(path, value, f"Map keys must satisfy constraint: [{keys[0]}]"))
        if values:
            problems.append(Problem(path, value, f"Map value must satisfy constraint: [{values[0]}]"))


_CONTAINERS = ("structure", "list", "map")


@dataclass(frozen=True, slots=True)
class _Members:
    """A structure's checks, read from its shape once: the required members and the members whose values
    can break a constraint, each with the name its problems' paths show."""

    required: tuple[tuple[str, str], ...]
    checked: dict[str, tuple[Shape, str]]


@dataclass(frozen=True, slots=True)
class _Rules:
    """A shape's own constraints, read from its model once."""

    kind: str
    low: Any  # "min", None when the model sets none
    high: Any  # "max"
    enum: list[str]  # strings only
    pattern: str | None  # strings only, as the model writes it
    compiled: re.Pattern[str] | None


# By shape object, as parse.body_members caches: input shapes belong to the operation models, which live as
# long as the process, so these hold one entry per (member) shape of the models served.
_MEMBERS: dict[StructureShape, _Members] = {}
_RULES: dict[Shape, _Rules | None] = {}
_CHECKED: dict[Shape, bool] = {}


def _members(shape: StructureShape) -> _Members:
    found = _MEMBERS.get(shape)
    if found is None:
        found = _MEMBERS[shape] = _Members(
            required=tuple((name, _lower_first(name)) for name in shape.required_members),
            checked={
                name: (member, _lower_first(name))
                for name, member in shape.members.items()
                if _checked(member)
            },
        )
    return found


def _rules(shape: Shape) -> _Rules | None:
    """The shape's own constraints; None for a shape without any (most have none)."""
    if shape in _RULES:
        return _RULES[shape]
    meta, kind = shape.metadata, shape.type_name
    enum = list(shape.enum) if kind == "string" else []
    pattern = meta.get("pattern") if kind == "string" else None
    rules = None
    if "min" in meta or "max" in meta or "pattern" in meta or enum:
        compiled = _pattern(pattern) if pattern else None
        rules = _Rules(kind, meta.get("min"), meta.get("max"), enum, pattern, compiled)
    _RULES[shape] = rules
    return rules


def _checked(shape: Shape) -> bool:
    """Whether a value of this shape can break anything: a constraint of its own, or members to check."""
    found = _CHECKED.get(shape)
    if found is None:
        found = _CHECKED[shape] = _rules(shape) is not None or shape.type_name in _CONTAINERS
    return found


def constraints(shape: Shape, value: Any) -> list[str]:
    """The value's own broken constraints: length, range, enum, pattern (not its members')."""
    rules = _rules(shape)
    if rules is None:
        return []
    kind, low, high = rules.kind, rules.low, rules.high
    broken: list[str] = []
    if kind in ("string", "blob", "list", "map") and isinstance(value, str | bytes | list | dict):
        size = len(value)
        if low is not None and size < low:
            broken.append(f"Member must have length greater than or equal to {low}")
        if high is not None and size > high:
            broken.append(f"Member must have length less than or equal to {high}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if low is not None and value < low:
            broken.append(f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            broken.append(f"Member must have value less than or equal to {high}")
    if kind == "string" and isinstance(value, str):
        if rules.enum and value not in rules.enum:
            broken.append(f"Member must satisfy enum value set: [{', '.join(rules.enum)}]")
        if rules.compiled is not None and rules.compiled.fullmatch(value) is None:
            broken.append(f"Member must satisfy regular expression pattern: {rules.pattern}")
    return broken


# Java's Unicode classes as Python can say them inside a character class. \p{L} and \p{N} become \w, which
# is a little wider (letters and digits both, and "_"): a translated pattern may accept more, never less.
_JAVA_CLASSES = {
    r"\p{L}": r"\w",
    r"\p{N}": r"\w",
    r"\p{Z}": "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
}
_RANGE_AFTER_CLASS = re.compile(r"(\\[wdsWDS])-")


def _pythonize(pattern: str) -> str:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    return _RANGE_AFTER_CLASS.sub(r"\1\\-", pattern)


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java-flavoured) pattern compiled for Python, or None where Python cannot read it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return re.compile(_pythonize(pattern), re.DOTALL)
        except re.error:
            return None
