"""AWS event stream framing (`application/vnd.amazon.eventstream`) for streamed outputs like InvokeWithResponseStream.

A message is: total length, headers length (both 4-byte big-endian), CRC32 of those 8 bytes, the headers
(name length, name, type 7 = string, value length, value), the payload, and a CRC32 of all before it.
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from botocore.model import Shape, StructureShape

from lambkin.protocol.errors import AwsError

log = logging.getLogger("lambkin.protocol")

_STRING = 7

ToJson = Callable[[Shape, Any], Any]  # serialize.to_json, passed in: members render as JSON bodies do


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message."""
    encoded = b"".join(
        struct.pack("!B", len(name.encode())) + name.encode() + struct.pack("!BH", _STRING, len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )  # fmt: skip
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message))


def event(stream: StructureShape, item: Mapping[str, Any], to_json: ToJson) -> bytes:
    """One event of the stream's union (`{"PayloadChunk": {"Payload": b"..."}}`) as a message."""
    if len(item) != 1:
        raise ValueError(f"an event names exactly one member of {stream.name}, not {list(item)}")
    ((name, value),) = item.items()
    shape = stream.members[name]
    assert isinstance(shape, StructureShape)
    headers = {":event-type": name, ":message-type": "event"}
    body: dict[str, Any] = {}
    payload: bytes | None = None
    for member_name, member in shape.members.items():
        member_value = value.get(member_name)
        if member_value is None:
            continue
        if member.serialization.get("eventheader"):
            headers[member_name] = str(member_value)
        elif member.serialization.get("eventpayload"):
            if member.type_name == "blob":
                payload = bytes(member_value)
                headers[":content-type"] = "application/octet-stream"
            elif member.type_name == "string":
                payload = str(member_value).encode()
                headers[":content-type"] = "text/plain"
            else:
                payload = json.dumps(to_json(member, member_value)).encode()
                headers[":content-type"] = "application/json"
        else:
            body[member.serialization.get("name", member_name)] = to_json(member, member_value)
    if payload is None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers[":content-type"] = "application/json"
    return frame(headers, payload)


async def encode(
    stream: StructureShape, events: AsyncIterator[Mapping[str, Any]], to_json: ToJson
) -> AsyncIterator[bytes]:
    """The stream's messages; an AwsError raised mid-stream ends it with an exception or error message."""
    try:
        async for item in events:
            yield event(stream, item, to_json)
    except AwsError as failure:
        if failure.code in stream.members:  # a modelled exception event
            headers = {":message-type": "exception", ":exception-type": failure.code}
            headers[":content-type"] = "application/json"
            yield frame(headers, json.dumps({"message": failure.message}).encode())
        else:
            headers = {
                ":message-type": "error",
                ":error-code": failure.code,
                ":error-message": failure.message,
            }
            yield frame(headers, b"")


async def guarded(stream: AsyncIterator[bytes], request_id: str) -> AsyncIterator[bytes]:
    """A reply's stream that ends, instead of raising, if producing it fails (its head is already sent). Here,
    not in the gateway: the gateway is compiled (lambkin.compiled), and mypyc compiles no async generator."""
    try:
        async for chunk in stream:
            yield chunk
    except Exception:
        log.exception("stream of request %s failed", request_id)
