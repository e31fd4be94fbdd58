"""JSON encoders compiled once per output shape: a value as the JSON its shape says, without walking the model."""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from weakref import WeakKeyDictionary

from botocore.model import Shape, StructureShape

Encoder = Callable[[Any], Any]

# Shapes compare by identity and live as long as their operation model; a weak key lets shapes built for
# one use (an error's shape) go.
_ENCODERS: WeakKeyDictionary[Shape, Encoder] = WeakKeyDictionary()
_BODIES: WeakKeyDictionary[Shape, Encoder] = WeakKeyDictionary()


_NATIVE = frozenset((str, int, float, bool))


class Fragment(str):
    """A structure already rendered to its JSON text (`serialize.fragment`), for a handler to keep and hand
    back in its place: encoders pass it on as it is and the body writer splices it in, so a cached item costs
    no encoding. Only a member of the body itself, not one nested deeper, is spliced."""


class Fragments(list[Fragment]):
    """A list member of an output body whose items are Fragments (a listing), spliced in the same way."""


def encoder(shape: Shape) -> Encoder:
    """The shape's encoder: wire names, base64 blobs, timestamps in their format, enums as their values.

    Keys that are not members of a structure are left out, and so are None values.
    """
    found = _ENCODERS.get(shape)
    if found is None:
        found = _ENCODERS[shape] = _compile(shape)
    return found


def body_encoder(shape: StructureShape) -> Encoder:
    """The encoder of a rest-json structure's body: its members bound to no header, label or query."""
    found = _BODIES.get(shape)
    if found is None:
        found = _BODIES[shape] = _structure(shape, body_only=True)
    return found


def plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _compile(shape: Shape) -> Encoder:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _structure(shape)
    if kind == "list":
        return _list(shape.member)
    if kind == "map":
        return _map(shape.value)
    if kind == "blob":
        return _blob
    if kind == "timestamp":
        form = shape.serialization.get("timestampFormat", "unixTimestamp")
        return lambda value: timestamp(value, form)
    return plain


def _structure(shape: StructureShape, body_only: bool = False) -> Encoder:
    # Members are compiled on first use, so a recursive shape compiles only as deep as its data goes.
    table: dict[str, tuple[str, Encoder]] = {}

    def encode_structure(value: Any) -> dict[str, Any] | Fragment:
        if value.__class__ is Fragment:
            return value
        if not table and shape.members:
            for name, member in shape.members.items():
                if body_only and member.serialization.get("location") is not None:
                    continue
                table[name] = (member.serialization.get("name", name), encoder(member))
        result: dict[str, Any] = {}
        # a body goes out in member order, a nested structure in the order of its value's keys
        pairs = [(name, value.get(name)) for name in table] if body_only else value.items()
        for name, item in pairs:
            entry = table.get(name)
            if entry is not None and item is not None:
                wire, encode = entry
                if encode is not plain:
                    result[wire] = encode(item)
                elif item.__class__ in _NATIVE:
                    result[wire] = item
                else:
                    result[wire] = item.value if isinstance(item, enum.Enum) else item
        return result

    return encode_structure


def _list(member: Shape) -> Encoder:
    cell: list[Encoder] = []

    def encode_list(value: Any) -> list[Any]:
        if value.__class__ is Fragments:
            return value
        if not cell:
            cell.append(encoder(member))
        encode = cell[0]
        if encode is plain:
            return [item.value if isinstance(item, enum.Enum) else item for item in value]
        return [encode(item) for item in value]

    return encode_list


def _map(value_shape: Shape) -> Encoder:
    cell: list[Encoder] = []

    def encode_map(value: Any) -> dict[str, Any]:
        if not cell:
            cell.append(encoder(value_shape))
        encode = cell[0]
        return {str(plain(k)): encode(v) for k, v in value.items()}

    return encode_map


def _blob(value: Any) -> str:
    raw = value if isinstance(value, bytes) else str(value).encode()
    return base64.b64encode(raw).decode()


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def timestamp(value: Any, form: str) -> Any:
    """A timestamp in the model's format: iso8601, rfc822 or epoch seconds (milliseconds kept)."""
    moment = _as_datetime(value)
    if form == "iso8601":
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if form == "rfc822":
        return format_datetime(moment.astimezone(UTC), usegmt=True)
    stamp = moment.timestamp()
    return int(stamp) if stamp.is_integer() else round(stamp, 3)
