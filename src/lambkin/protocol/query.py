"""Reads a query-protocol request (`Action=...` form fields, flattened lists and maps) into its input dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import Shape, StructureShape

from lambkin.protocol.parse import ParseError, scalar

_MAX_ITEMS = 10_000


def parse_query(shape: StructureShape | None, params: Mapping[str, str]) -> dict[str, Any]:
    """The operation's input from form fields named as the (query-era) model says."""
    if shape is None:
        return {}
    prefixes = {key.rsplit(".", depth)[0] for key in params for depth in range(key.count(".") + 1)}
    reader = _Reader(params, prefixes)
    result = reader.structure(shape, "")
    return result or {}


class _Reader:
    def __init__(self, params: Mapping[str, str], prefixes: set[str]) -> None:
        self.params = params
        self.prefixes = prefixes

    def value(self, shape: Shape, key: str) -> Any:
        kind = shape.type_name
        if kind == "list":
            return self.list(shape, key)
        if key not in self.prefixes:
            return None
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            return self.structure(shape, key)
        if kind == "map":
            return self.map(shape, key)
        text = self.params.get(key)
        return None if text is None else scalar(shape, text, key)

    def structure(self, shape: StructureShape, prefix: str) -> dict[str, Any] | None:
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            value = self.value(member, f"{prefix}.{wire}" if prefix else wire)
            if value is not None:
                result[name] = value
        return result if result or not prefix else None

    def list(self, shape: Shape, prefix: str) -> list[Any] | None:
        element = shape.member.serialization.get("name")
        if not shape.serialization.get("flattened"):
            base = f"{prefix}.{element or 'member'}"
        elif element:
            base = ".".join([*prefix.split(".")[:-1], element])
        else:
            base = prefix
        if base not in self.prefixes:
            return None
        items: list[Any] = []
        for index in range(1, _MAX_ITEMS + 1):
            item = self.value(shape.member, f"{base}.{index}")
            if item is None:
                break
            items.append(item)
        return items

    def map(self, shape: Shape, prefix: str) -> dict[str, Any] | None:
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        result: dict[str, Any] = {}
        for index in range(1, _MAX_ITEMS + 1):
            key = self.value(shape.key, f"{base}.{index}.{key_name}")
            if key is None:
                if f"{base}.{index}" in self.prefixes:
                    raise ParseError(f"Missing map key '{base}.{index}.{key_name}'")
                break
            value = self.value(shape.value, f"{base}.{index}.{value_name}")
            if value is not None:
                result[str(key)] = value
        return result
