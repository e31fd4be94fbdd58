"""All AWS-shaped rendering: an operation's output or an AwsError as rest-json, json or query XML bytes."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape, StructureShape

from lambkin.protocol import eventstream
from lambkin.protocol.encode import Fragment, Fragments, body_encoder, encoder, plain, timestamp
from lambkin.protocol.errors import AwsError
from lambkin.protocol.legacy import SQS_JSON_TYPES, SQS_XML_NAMESPACE, json_type, query_error, query_message
from lambkin.protocol.model import ServiceIndex


@dataclass(slots=True)
class Reply:
    """An HTTP response: complete, or (for event-stream outputs) a head and a stream of messages."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stream: AsyncIterator[bytes] | None = None


def rest_json(operation: OperationModel, output: Mapping[str, Any]) -> Reply:
    """A rest-json response: status, header members, and a JSON body or a raw payload."""
    status = int(operation.http.get("responseCode", 200))
    shape = operation.output_shape
    if shape is None:
        return Reply(status, [("content-type", "application/json")], _no_content_or(status, b"{}"))
    return _rest_json_structure(shape, output, status)


def _rest_json_structure(shape: StructureShape, output: Mapping[str, Any], status: int) -> Reply:
    headers: list[tuple[str, str]] = []
    for name, location, wire, member in _located(shape):
        value = output.get(name)
        if value is None:
            continue
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers.append((wire, _header_value(member, value)))
        elif location == "headers":
            headers.extend((wire + str(k), str(v)) for k, v in value.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("content-type", "application/json"))
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        value = output.get(payload)
        if member.serialization.get("eventstream") and isinstance(member, StructureShape):
            if headers[0] == ("content-type", "application/json"):
                headers[0] = ("content-type", "application/vnd.amazon.eventstream")
            return Reply(
                status,
                headers,
                b"",
                eventstream.encode(member, value, to_json) if value is not None else None,
            )
        if member.type_name in ("blob", "string"):
            raw = value if isinstance(value, bytes) else str(value or "").encode()
            return Reply(status, headers, raw)
        body = to_json(member, value) if value is not None else {}
    else:
        body = body_encoder(shape)(output)
    return Reply(status, headers, _no_content_or(status, _dumps(body)))


def _no_content_or(status: int, body: bytes) -> bytes:
    """A 204 carries no body: one would be read as the start of the connection's next response."""
    return b"" if status == 204 else body


_Located = tuple[tuple[str, str, str, Shape], ...]
_LOCATED: WeakKeyDictionary[Shape, _Located] = WeakKeyDictionary()


def _located(shape: StructureShape) -> _Located:
    """The members a rest-json output sends outside its body (status, headers), read once per shape."""
    found = _LOCATED.get(shape)
    if found is None:
        found = _LOCATED[shape] = tuple(
            (name, member.serialization["location"], member.serialization.get("name", name), member)
            for name, member in shape.members.items()
            if member.serialization.get("location") is not None
        )
    return found


def json_body(index: ServiceIndex, operation: OperationModel, output: Mapping[str, Any]) -> Reply:
    """A json-protocol response: the output structure is the body."""
    shape = operation.output_shape
    body = to_json(shape, output) if shape is not None else {}
    return Reply(200, [("content-type", f"application/x-amz-json-{index.json_version}")], _dumps(body))


def to_json(shape: Shape, value: Any) -> Any:
    """A Python value as the JSON its shape says (wire names, base64 blobs, epoch timestamps).

    Keys that are not members of a structure are left out.
    """
    return encoder(shape)(value)


_plain = plain
_timestamp = timestamp
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def fragment(shape: Shape, value: Any) -> Fragment:
    """`value` as the JSON text of its shape, to render once and keep (alone, or listed in a `Fragments`)."""
    return Fragment(_JSON(to_json(shape, value)))


_SPLICED = (Fragment, Fragments)


def _dumps(body: Any) -> bytes:
    if body.__class__ is dict and any(v.__class__ in _SPLICED for v in body.values()):
        return _spliced(body).encode()
    return _JSON(body).encode()


def _spliced(body: dict[str, Any]) -> str:
    """A body object whose members may be a Fragment or Fragments: their texts go in as they are."""
    return "{" + ",".join(f"{_JSON(key)}:{_member_text(value)}" for key, value in body.items()) + "}"


def _member_text(value: Any) -> str:
    if value.__class__ is Fragment:
        return str(value)
    if value.__class__ is Fragments:
        return "[" + ",".join(value) + "]"
    return _JSON(value)


def _header_value(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if shape.type_name == "list":
        return ",".join(_header_value(shape.member, item) for item in value)
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(_dumps(value)).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if shape.type_name == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(_plain(value))


# A carriage return goes as a character reference: a raw one would reach the client as a line feed (XML
# parsers normalize line ends).
_XML_TEXT = {"\r": "&#xD;"}


def xml_namespace(index: ServiceIndex) -> str:
    """The namespace of a service's query-protocol XML: its model's, or SQS's query-era one."""
    return SQS_XML_NAMESPACE if index.name == "sqs" else index.xml_namespace


def query_xml(operation: OperationModel, output: Mapping[str, Any], request_id: str, namespace: str) -> Reply:
    """A query-protocol response: `<OpResponse xmlns=namespace><OpResult>...</OpResult><ResponseMetadata>`."""
    name = operation.name
    shape = operation.output_shape
    result = ""
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        result = f"<{wrapper}>{_xml_members(shape, output)}</{wrapper}>"
    body = (
        f'<?xml version="1.0"?><{name}Response xmlns="{namespace}">{result}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>"
    )
    return Reply(200, [("content-type", "text/xml")], body.encode())


def query_json(operation: OperationModel, output: Mapping[str, Any], request_id: str) -> Reply:
    """A query-protocol response for a client that accepts JSON (SQS answers `Accept: application/json`
    so): the XML document's elements as JSON objects."""
    name = operation.name
    response: dict[str, Any] = {}
    shape = operation.output_shape
    if shape is not None:
        response[shape.serialization.get("resultWrapper", f"{name}Result")] = to_json(shape, output)
    response["ResponseMetadata"] = {"RequestId": request_id}
    return Reply(200, [("content-type", "application/json")], _dumps({f"{name}Response": response}))


def _xml_members(shape: StructureShape, value: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for name, member in shape.members.items():
        item = value.get(name)
        if item is not None:
            parts.append(_xml(member, item, member.serialization.get("name", name)))
    return "".join(parts)


def _xml(shape: Shape, value: Any, tag: str) -> str:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return f"<{tag}>{_xml_members(shape, value)}</{tag}>"
    if kind == "list":
        element = shape.member.serialization.get("name", "member")
        if shape.serialization.get("flattened"):
            element = shape.member.serialization.get("name", tag)
            return "".join(_xml(shape.member, item, element) for item in value)
        return f"<{tag}>" + "".join(_xml(shape.member, item, element) for item in value) + f"</{tag}>"
    if kind == "map":
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        entries = [
            f"{_xml(shape.key, k, key_tag)}{_xml(shape.value, v, value_tag)}" for k, v in value.items()
        ]
        if shape.serialization.get("flattened"):
            return "".join(f"<{tag}>{entry}</{tag}>" for entry in entries)
        return f"<{tag}>" + "".join(f"<entry>{entry}</entry>" for entry in entries) + f"</{tag}>"
    if kind == "blob":
        raw = value if isinstance(value, bytes) else str(value).encode()
        text = base64.b64encode(raw).decode()
    elif kind == "timestamp":
        text = str(_timestamp(value, shape.serialization.get("timestampFormat", "iso8601")))
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(_plain(value))
    return f"<{tag}>{escape(text, _XML_TEXT)}</{tag}>"


def error(
    index: ServiceIndex, protocol: str, failure: AwsError, request_id: str, accepts_json: bool = False
) -> Reply:
    """An AwsError as the service's protocol renders errors, with the model's status for its shape
    (`accepts_json`: a query-protocol request of a query-compatible service that asked for JSON)."""
    status = failure.status or index.error_status(failure.code) or 400
    fault = "Sender" if status < 500 else "Receiver"
    legacy, legacy_status = query_error(index.name, failure.code)
    legacy = failure.query_code or (legacy if index.name == "sqs" else index.wire_code(failure.code))
    if protocol == "query":
        if index.query_compatible:
            status = failure.status or legacy_status or status
            detail = "<Detail/>"
        else:
            legacy, detail = failure.query_code or index.wire_code(failure.code), ""
        message = query_message(index.name, failure.message)
        if accepts_json and index.query_compatible:
            error = {"Type": fault, "Code": legacy, "Message": message}
            document = {"ErrorResponse": {"Error": error, "RequestId": request_id}}
            return Reply(status, [("content-type", "application/json")], _dumps(document))
        xml = (
            f'<?xml version="1.0"?><ErrorResponse xmlns="{xml_namespace(index)}"><Error><Type>{fault}</Type>'
            f"<Code>{escape(legacy)}</Code><Message>{escape(message, _XML_TEXT)}</Message>"
            f"{detail}</Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Reply(status, [("content-type", "text/xml")], xml.encode())
    shape = index.model.shape_for(failure.code) if failure.code in index.errors else None
    members = shape.members if isinstance(shape, StructureShape) else {}
    message_key = "Message" if "Message" in members and "message" not in members else "message"
    if message_key in members:  # its wire name (API Gateway's Message is "message" on the wire)
        message_key = members[message_key].serialization.get("name", message_key)
    fields = dict(failure.fields)
    if "Type" in members:
        fields.setdefault("Type", "User" if status < 500 else "Service")
    headers: list[tuple[str, str]] = []
    body: dict[str, Any] = {}
    for name, value in fields.items():
        member = members.get(name)
        if value is None:
            continue
        if member is None:
            body[name] = _plain(value)
        elif member.serialization.get("location") == "header":
            headers.append((member.serialization.get("name", name), _header_value(member, value)))
        else:
            body[member.serialization.get("name", name)] = to_json(member, value)
    body[message_key] = failure.message
    if protocol == "json":
        headers.append(("content-type", f"application/x-amz-json-{index.json_version}"))
        wire_type = failure.code
        if index.query_compatible:
            status = failure.status or legacy_status or status
            headers.append(("x-amzn-query-error", f"{legacy};{fault}"))
            mapped = failure.code in SQS_JSON_TYPES or failure.code in SQS_JSON_TYPES.values()
            if (shape is not None or mapped) and (full := json_type(index.name, failure.code)) is not None:
                wire_type = full
            elif shape is not None:
                wire_type = f"com.amazonaws.{index.name}#{failure.code}"
        return Reply(status, headers, _dumps({"__type": wire_type, **body}))
    headers[:0] = [("x-amzn-errortype", failure.code), ("content-type", "application/json")]
    return Reply(status, headers, _dumps(body))
