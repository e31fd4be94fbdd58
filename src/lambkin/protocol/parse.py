"""Turns an HTTP request into an operation's input dict: URI labels, query string, headers, body."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, Shape, StructureShape

from lambkin import json_depth
from lambkin.protocol.model import body_members


class ParseError(Exception):
    """The request cannot be read as the operation's input (not JSON, wrong type, bad encoding)."""


def parse_rest_json(
    operation: OperationModel,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The input of a rest-json operation, keyed by member name."""
    shape = operation.input_shape
    if shape is None:
        return {}
    result: dict[str, Any] = {}
    used_query: set[str] = set()
    for name, location, wire, member in _located(shape):
        if location == "uri":
            if wire in labels:
                result[name] = scalar(member, unquote(labels[wire]), name)
        elif location == "querystring":
            if member.type_name == "map":
                continue
            if wire in query:
                used_query.add(wire)
                values = query[wire]
                if member.type_name == "list":
                    result[name] = [scalar(member.member, v, name) for v in values]
                else:
                    result[name] = scalar(member, values[0], name)
        elif location == "header":
            value = headers.get(wire.lower())
            if value is not None:
                result[name] = _header(member, value, name)
        elif location == "headers":
            prefix = wire.lower()
            found = {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                result[name] = found
    for name, location, _, member in _located(shape):
        if location == "querystring" and member.type_name == "map":
            rest = {k: v for k, v in query.items() if k not in used_query}
            if rest:
                many = member.value.type_name == "list"
                result[name] = {k: (v if many else v[0]) for k, v in rest.items()}
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "blob":
            if body:
                result[payload] = body
        elif member.type_name == "string":
            if body:
                result[payload] = body.decode("utf-8", "replace")
        elif body.strip():
            result[payload] = from_json(member, _load(body), payload)
    elif body.strip():
        document = _load(body)
        if not isinstance(document, dict):
            raise ParseError("Could not parse request body into json: expected an object")
        result.update(_structure_members(shape, document, ""))
    return result


@cache
def _located(shape: StructureShape) -> tuple[tuple[str, str, str, Shape], ...]:
    """The members read from outside the body (label, query, headers): name, location, wire name, shape."""
    return tuple(
        (name, member.serialization["location"], member.serialization.get("name", name), member)
        for name, member in shape.members.items()
        if member.serialization.get("location") is not None
    )


def parse_json(operation: OperationModel, body: bytes) -> dict[str, Any]:
    """The input of a json-protocol operation: the body is the input structure."""
    shape = operation.input_shape
    if shape is None or not body.strip():
        return {}
    document = _load(body)
    if not isinstance(document, dict):
        raise ParseError("Start of structure or map found where not expected.")
    parsed: dict[str, Any] = from_json(shape, document, "")
    return parsed


def _load(body: bytes) -> Any:
    try:
        return json_depth.loads(body)
    except ValueError as exc:
        raise ParseError(f"Could not parse request body into json: {exc}") from None


def from_json(shape: Shape, value: Any, path: str) -> Any:
    """A JSON value checked against its shape and converted (blob → bytes, timestamp → datetime)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ParseError(f"Expected an object at '{path}'")
        assert isinstance(shape, StructureShape)
        return _structure_members(shape, value, path)
    if kind == "list":
        if not isinstance(value, list):
            raise ParseError(f"Expected an array at '{path}'")
        member, inner = shape.member, f"{path}.member"
        if member.type_name == "string":
            return [
                item if item.__class__ is str else from_json(member, item, inner)
                for item in value
                if item is not None
            ]
        return [from_json(member, item, inner) for item in value if item is not None]
    if kind == "map":
        if not isinstance(value, dict):
            raise ParseError(f"Expected an object at '{path}'")
        return {
            str(from_json(shape.key, k, path)): from_json(shape.value, v, f"{path}.{k}")
            for k, v in value.items()
            if v is not None
        }
    if kind == "string":
        if not isinstance(value, str):
            raise ParseError(f"Expected a string at '{path}'")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ParseError(f"Expected an integer at '{path}'")
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParseError(f"Expected a number at '{path}'")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ParseError(f"Expected a boolean at '{path}'")
        return value
    if kind == "blob":
        if not isinstance(value, str):
            raise ParseError(f"Expected a base64 string at '{path}'")
        return _base64(value, path)
    if kind == "timestamp":
        return _timestamp(value, path)
    return value


def _structure_members(shape: StructureShape, value: dict[str, Any], path: str) -> dict[str, Any]:
    """The body members of a structure found in a JSON object (unknown keys are ignored, as AWS does)."""
    wires = body_members(shape)
    result: dict[str, Any] = {}
    for wire, item in value.items():
        found = wires.get(wire)
        if found is not None and item is not None:
            name, member = found
            if item.__class__ is str and member.type_name == "string":  # the commonest member, as it is
                result[name] = item
            else:
                result[name] = from_json(member, item, f"{path}.{name}" if path else name)
    return result


def scalar(shape: Shape, text: str, path: str) -> Any:
    """A string from a URI label, query string or header, converted to its shape's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(text)
            return number
    except ValueError:
        raise ParseError(f"Invalid value '{text}' for '{path}': expected a number") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ParseError(f"Invalid value '{text}' for '{path}': expected true or false")
        return text.lower() == "true"
    if kind == "timestamp":
        return _timestamp(text, path)
    if kind == "blob":
        return _base64(text, path)
    return text


def _header(shape: Shape, value: str, path: str) -> Any:
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json_depth.loads(base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error):
            raise ParseError(f"Invalid JSON value in header for '{path}'") from None
    if shape.type_name == "list":
        return [scalar(shape.member, part.strip().strip('"'), path) for part in value.split(",") if part]
    if shape.type_name == "timestamp":
        try:
            return parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError):
            return _timestamp(value, path)
    return scalar(shape, value, path)


def _base64(text: str, path: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ParseError(f"Invalid base64 value for '{path}'") from None


def _timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ParseError(f"Invalid timestamp for '{path}'") from None
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ParseError(f"Invalid timestamp '{value}' for '{path}'") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ParseError(f"Expected a timestamp at '{path}'")
