"""Property: malformed and out-of-range input to any Lambda operation never gets a 500, only modelled errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.model import OperationModel, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambkin.protocol.model import service_index
from tests.unit.protocol.samples import minimal
from tests.unit.protocol.wire import ENDPOINT, build, echo, gateway, send

MODEL = service_index("lambda").model
OPERATIONS = sorted(MODEL.operation_names)
# Errors the protocol layer answers before any handler runs.
PROTOCOL_ERRORS = {
    "ValidationException",
    "InvalidRequestContentException",
    "RequestTooLargeException",
    "UnknownOperationException",
}
_ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
_ANY_TEXT = st.text(max_size=40)


def _values(shape: Shape, depth: int = 0, in_header: bool = False) -> st.SearchStrategy[Any]:
    """Values of the shape's Python type with arbitrary content: empty, huge, off-enum, off-pattern."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if depth > 3:
            return st.just({})
        members = {
            name: _values(member, depth + 1, member.serialization.get("location") == "header")
            for name, member in shape.members.items()
            if member.serialization.get("location") != "headers"
        }
        # URI labels are always on the wire; other required members are usually there, not always.
        labels = {
            n: members.pop(n) for n, m in shape.members.items() if m.serialization.get("location") == "uri"
        }
        required = {n: members.pop(n) for n in shape.required_members if n in members and depth == 0}
        return st.fixed_dictionaries({**labels, **required}, optional=members) | st.fixed_dictionaries(
            labels, optional={**required, **members}
        )
    if kind == "list":
        return st.lists(_values(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(_ASCII, _values(shape.value, depth + 1), max_size=3)
    if kind == "string":
        options = [_ASCII if in_header else _ANY_TEXT, st.just(""), st.just("x" * 300)]
        if shape.enum:
            options.append(st.sampled_from(shape.enum))
        return st.one_of(options)
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.binary(max_size=64)
    if kind == "timestamp":
        return st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
    return st.none()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _allowed(operation: OperationModel) -> set[str]:
    return PROTOCOL_ERRORS | {shape.name for shape in operation.error_shapes}


def _app() -> Any:
    handler, _ = echo({})
    return gateway({"lambda": dict.fromkeys(OPERATIONS, handler)})


APP = _app()


def _check(answer: Any, operation: OperationModel) -> None:
    assert answer.status < 500, answer.body
    if answer.status >= 400:
        code = answer.headers["x-amzn-errortype"]
        assert code in _allowed(operation), (code, answer.body)
        body = json.loads(answer.body)
        assert body.get("message") or body.get("Message")


@pytest.mark.parametrize("name", OPERATIONS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_typed_but_arbitrary_input_never_fails_the_server(name: str, data: st.DataObject) -> None:
    operation = MODEL.operation_model(name)
    params = data.draw(_values(operation.input_shape) if operation.input_shape else st.just({}))
    try:
        request = build("lambda", name, params)
    except (ValueError, KeyError, TypeError):
        return  # botocore itself cannot put this on the wire (e.g. an empty URI label)
    _check(send(APP, request), operation)


@pytest.mark.parametrize("name", OPERATIONS)
@settings(max_examples=5, deadline=None)
@given(document=_JSON, raw=st.binary(max_size=40), use_raw=st.booleans())
def test_garbage_bodies_never_fail_the_server(name: str, document: Any, raw: bytes, use_raw: bool) -> None:
    operation = MODEL.operation_model(name)
    template = build("lambda", name, minimal(operation.input_shape), sign=False)
    body = raw if use_raw else json.dumps(document).encode()
    signed = AWSRequest(method=template.method, url=template.url, data=body)
    SigV4Auth(BotoCredentials("AKIDTEST", "test-secret"), "lambda", "us-east-1").add_auth(signed)
    _check(send(APP, signed.prepare()), operation)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
    query=_ASCII,
)
def test_arbitrary_paths_never_fail_the_server(method: str, path: str, query: str) -> None:
    url = f"{ENDPOINT}/{path.lstrip('/')}"
    signed = AWSRequest(method=method, url=url, params={"q": query})
    SigV4Auth(BotoCredentials("AKIDTEST", "test-secret"), "lambda", "us-east-1").add_auth(signed)
    answer = send(APP, signed.prepare())
    assert answer.status < 500, answer.body
