"""Test helper: minimal input values for any shape, for driving every operation of a model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape, StructureShape


def minimal(shape: Shape | None, depth: int = 0) -> Any:
    """A value with every required member set to a plain valid-looking value."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if depth > 5:
            return {}
        return {name: minimal(shape.members[name], depth + 1) for name in shape.required_members}
    if kind == "list":
        return [minimal(shape.member, depth + 1)]
    if kind == "map":
        return {"k": minimal(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else "name-1"
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if kind in ("float", "double"):
        return float(shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"data"
    if kind == "timestamp":
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return None


def full(shape: Shape | None, depth: int = 0) -> Any:
    """A value with every member set (two list items, two map entries), to exercise every wire name."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if depth > 4:
            return {}
        return {
            name: full(member, depth + 1)
            for name, member in shape.members.items()
            if member.serialization.get("location") not in ("headers", "statusCode")
            and not member.serialization.get("eventstream")
        }
    if kind == "list":
        return [full(shape.member, depth + 1), full(shape.member, depth + 1)]
    if kind == "map":
        return {"k1": full(shape.value, depth + 1), "k2": full(shape.value, depth + 1)}
    return minimal(shape, depth)
