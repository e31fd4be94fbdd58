"""Property: arbitrary input to every SQS (json and query) and CloudWatch Logs operation never gets a 500."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambkin.protocol.legacy import SQS_QUERY_ERRORS
from lambkin.protocol.model import service_index
from tests.unit.protocol.test_properties import _values
from tests.unit.protocol.wire import build, echo, gateway, send

SQS = service_index("sqs")
LOGS = service_index("logs")
_handler, _ = echo({})
APP = gateway(
    {
        "sqs": dict.fromkeys(SQS.model.operation_names, _handler),
        "logs": dict.fromkeys(LOGS.model.operation_names, _handler),
    }
)
SQS_CODES = {"MissingParameter", "InvalidParameterValue", "InvalidAction"} | {
    legacy for legacy, _ in SQS_QUERY_ERRORS.values()
}
LOGS_CODES = {"InvalidParameterException", "SerializationException", "UnknownOperationException"}
CASES = [("sqs", "json", name) for name in SQS.model.operation_names]
CASES += [("sqs", "query", name) for name in SQS.model.operation_names]
CASES += [("logs", "json", name) for name in LOGS.model.operation_names]


def _code(answer: Any, protocol: str) -> str:
    if protocol == "query":
        error = ElementTree.fromstring(answer.body).find("{*}Error")
        assert error is not None
        return error.findtext("{*}Code") or ""
    if "x-amzn-query-error" in answer.headers:
        return str(answer.headers["x-amzn-query-error"]).split(";")[0]
    code: str = json.loads(answer.body)["__type"]
    return code.rsplit("#", 1)[-1]


@pytest.mark.parametrize(("service", "protocol", "name"), CASES)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_input_never_fails_the_server(
    service: str, protocol: str, name: str, data: st.DataObject
) -> None:
    operation = service_index(service).operations[name]
    params = data.draw(_values(operation.input_shape) if operation.input_shape else st.just({}))
    try:
        request = build(service, name, params, protocol=protocol if protocol == "query" else None)
    except (ValueError, KeyError, TypeError):
        return
    answer = send(APP, request)
    assert answer.status < 500, answer.body
    if answer.status >= 400:
        allowed = SQS_CODES if service == "sqs" else LOGS_CODES | {s.name for s in operation.error_shapes}
        assert _code(answer, protocol) in allowed, answer.body
