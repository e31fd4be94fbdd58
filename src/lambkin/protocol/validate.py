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
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(Problem(_join(path, name), None, "Member must not be null"))
    members = shape.members
    for name, item in value.items():
        member = members.get(name)
        if member is not None and item is not None and _checked(member):
            _check(member, item, _join(path, name), problems)


def _join(path: str, name: str) -> str:
    return f"{path}.{_lower_first(name)}" if path else _lower_first(name)


def _check(shape: Shape, value: Any, path: str, problems: list[Problem]) -> None:
    if len(problems) >= _MAX_PROBLEMS:
        return
    broken = _constraints(shape, value)
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
                inner.extend(_constraints(shape.member, item))
        if inner:
            problems.append(Problem(path, value, f"Member must satisfy constraint: [{inner[0]}]"))
    elif kind == "map":
        keys: list[str] = []
        values: list[str] = []
        for key, item in value.items():
            keys.extend(_constraints(shape.key, key))
            if item is None:
                continue
            if shape.value.type_name in _CONTAINERS:
                _check(shape.value, item, f"{path}.{key}", problems)
            else:
                values.extend(_constraints(shape.value, item))
        if keys:
            problems.append(Problem(path, value, f"Map keys must satisfy constraint: [{keys[0]}]"))
        if values:
            problems.append(Problem(path, value, f"Map value must satisfy constraint: [{values[0]}]"))


_CONTAINERS = ("structure", "list", "map")


# By shape object, as parse.body_members caches: input shapes belong to the operation models, which live as
# long as the process, so these hold one entry per member shape of the models served.
_CONSTRAINED: dict[Shape, bool] = {}
_CHECKED: dict[Shape, bool] = {}


def _constrained(shape: Shape) -> bool:
    """Whether the shape has any constraint of its own (most have none), read once per shape."""
    found = _CONSTRAINED.get(shape)
    if found is None:
        meta = shape.metadata
        found = _CONSTRAINED[shape] = bool(
            "min" in meta
            or "max" in meta
            or "pattern" in meta
            or (shape.type_name == "string" and shape.enum)
        )
    return found


def _checked(shape: Shape) -> bool:
    """Whether a value of this shape can break anything: a constraint of its own, or members to check."""
    found = _CHECKED.get(shape)
    if found is None:
        found = _CHECKED[shape] = _constrained(shape) or shape.type_name in _CONTAINERS
    return found


def _constraints(shape: Shape, value: Any) -> list[str]:
    """The value's own broken constraints: length, range, enum, pattern (not its members')."""
    if not _constrained(shape):
        return []
    kind = shape.type_name
    meta = shape.metadata
    broken: list[str] = []
    if kind in ("string", "blob", "list", "map") and isinstance(value, str | bytes | list | dict):
        size = len(value)
        if "min" in meta and size < meta["min"]:
            broken.append(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            broken.append(f"Member must have length less than or equal to {meta['max']}")
    elif kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            broken.append(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            broken.append(f"Member must have value less than or equal to {meta['max']}")
    if kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            broken.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        compiled = _pattern(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            broken.append(f"Member must satisfy regular expression pattern: {pattern}")
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
