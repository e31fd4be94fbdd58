"""SQS's two protocols carry the same values: for every operation, input and output read the same."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from botocore.parsers import create_parser
from urllib3 import HTTPHeaderDict

from lambkin.protocol import serialize
from lambkin.protocol.legacy import SQS_XML_NAMESPACE, query_model
from lambkin.protocol.model import service_index
from lambkin.protocol.parse import parse_json
from lambkin.protocol.query import parse_query
from tests.unit.protocol.samples import full
from tests.unit.protocol.wire import build

SQS = service_index("sqs")
QUERY = query_model("sqs")


def _body(request: Any) -> bytes:
    body = request.body or b""
    return body if isinstance(body, bytes) else str(body).encode()


def _headers(reply: serialize.Reply) -> HTTPHeaderDict:
    headers = HTTPHeaderDict()
    for key, value in reply.headers:
        headers.add(key, value)
    return headers


@pytest.mark.parametrize("operation", SQS.model.operation_names)
def test_input_reads_the_same_from_json_and_query(operation: str) -> None:
    params = full(SQS.operations[operation].input_shape)
    from_json = parse_json(SQS.operations[operation], _body(build("sqs", operation, params)))
    form = dict(
        parse_qsl(_body(build("sqs", operation, params, protocol="query")).decode(), keep_blank_values=True)
    )
    assert form.pop("Action") == operation
    assert form.pop("Version") == "2012-11-05"
    from_query = parse_query(QUERY.operation_model(operation).input_shape, form)
    assert from_query == from_json == params


@pytest.mark.parametrize("operation", SQS.model.operation_names)
def test_output_reads_the_same_from_json_and_query_xml(operation: str) -> None:
    json_op = SQS.operations[operation]
    query_op = QUERY.operation_model(operation)
    output = full(json_op.output_shape)
    json_reply = serialize.json_body(SQS, json_op, output)
    xml_reply = serialize.query_xml(query_op, output, "rid", SQS_XML_NAMESPACE)
    as_json = create_parser("json").parse(
        {"status_code": 200, "headers": _headers(json_reply), "body": json_reply.body}, json_op.output_shape
    )
    as_xml = create_parser("query").parse(
        {"status_code": 200, "headers": _headers(xml_reply), "body": xml_reply.body}, query_op.output_shape
    )
    assert as_xml.pop("ResponseMetadata")["RequestId"] == "rid"
    as_json.pop("ResponseMetadata", None)
    assert as_xml == as_json == output
    assert json.loads(json_reply.body) is not None
