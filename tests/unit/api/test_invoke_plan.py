"""The compiled Invoke plan answers a plain synchronous Invoke exactly as the generic gateway does (status,
headers, body, the handler's input and context), turns down every request it does not read whole before
anything runs, and renders the call's failures (AccessDenied, domain errors) in the same words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from lambkin.api.authorize import build_authorize, fixed
from lambkin.api.invoke_plan import InvokePlan
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.keys import Key
from lambkin.identity.principals import Principal
from lambkin.protocol.gateway import AwsGateway, api_request
from lambkin.protocol.serialize import Reply
from lambkin.testing.identity import FakeDirectory
from tests.unit.protocol.wire import KEY, build

ACCOUNT = "000000000000"
USER = Principal("user", f"arn:aws:iam::{ACCOUNT}:user/dev", ACCOUNT, "AIDAEXAMPLE", "dev")


@dataclass
class Head:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def head_of(params: Mapping[str, Any], secret: str | None = None) -> Head:
    """An Invoke as botocore serializes and signs it, as the front door reads its head."""
    request = build("lambda", "Invoke", params)
    parts = urlsplit(request.url)
    headers = {k.lower(): v if isinstance(v, str) else v.decode() for k, v in request.headers.items()}
    headers.setdefault("host", parts.netloc)
    if secret is not None:  # a signature made with another secret
        headers["authorization"] = headers["authorization"][:-4] + "0000"
    body = request.body or b""
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return Head(request.method, target, headers, body if isinstance(body, bytes) else body.encode())


class Recorder:
    """An Invoke handler that records its input and context and answers `output` (or raises `failure`)."""

    def __init__(self, output: dict[str, Any] | None = None, failure: Exception | None = None) -> None:
        self.output = output or {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": b'{"ok":1}'}
        self.failure = failure
        self.seen: list[tuple[dict[str, Any], Any]] = []

    async def __call__(self, params: dict[str, Any], context: Any) -> dict[str, Any]:
        self.seen.append((dict(params), context))
        if self.failure is not None:
            raise self.failure
        return dict(self.output)


def gateway(handler: Recorder, allowed: bool = True) -> AwsGateway:
    services = {"lambda": {"Invoke": handler}}
    directory = FakeDirectory()
    if allowed:
        statement = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}
        directory.attach(USER.arn, json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    def keys(access_key_id: str, token: str | None) -> Key | None:
        return Key(KEY.secret_access_key, USER) if access_key_id == KEY.access_key_id else None

    tables = {"lambda": {"Invoke": fixed("lambda:InvokeFunction")}}
    authorize = build_authorize(Authorizer(directory, ACCOUNT), tables, services)
    return AwsGateway(services, ACCOUNT, keys, authorize=authorize)


def generic(gw: AwsGateway, head: Head) -> Reply:
    routed = gw.route(api_request(head.method, head.target, head.headers, "10.0.0.1"))
    return asyncio.run(gw.answer(routed, head.body))


def planned(plan: InvokePlan, head: Head) -> Reply | None:
    params = plan.admit(head.method, head.target, head.headers)
    if params is None:
        return None
    return asyncio.run(plan.answer(params, head.target, head.headers, head.body, "10.0.0.1"))


def same(a: Reply, b: Reply) -> None:
    """Equal but for the request ID, which each answer makes afresh."""
    strip = lambda reply: [(k, v) for k, v in reply.headers if k != "x-amzn-requestid"]  # noqa: E731
    assert (a.status, strip(a), a.body) == (b.status, strip(b), b.body)
    assert [k for k, _ in a.headers].count("x-amzn-requestid") == 1


PLAIN = [
    {"FunctionName": "echo", "Payload": b'{"a": 1}'},
    {"FunctionName": "echo"},
    {"FunctionName": "echo", "Qualifier": "$LATEST", "Payload": b"{}"},
    {"FunctionName": "echo", "Qualifier": "live", "InvocationType": "RequestResponse", "LogType": "Tail"},
    {"FunctionName": "echo", "LogType": "None", "ClientContext": "eyJhIjoxfQ=="},
    {"FunctionName": "echo:live", "Payload": b"[1,2]"},
]


@pytest.mark.parametrize("params", PLAIN)
def test_a_plain_invoke_is_answered_as_the_gateway_answers_it(params: dict[str, Any]) -> None:
    output = {
        "StatusCode": 200,
        "ExecutedVersion": "3",
        "Payload": b'{"errorMessage":"x"}',
        "FunctionError": "Unhandled",
        "LogResult": "U1RBUlQ=",
    }
    by_gateway, by_plan = Recorder(output), Recorder(output)
    plan = InvokePlan(gateway(by_plan))
    head = head_of(params)
    answer = planned(plan, head)
    assert answer is not None
    same(generic(gateway(by_gateway), head), answer)
    (expected, expected_context), (got, got_context) = by_gateway.seen[0], by_plan.seen[0]
    assert got == expected
    assert got_context.caller == expected_context.caller == USER
    assert (got_context.operation, got_context.region, got_context.source_ip) == (
        "Invoke",
        "us-east-1",
        "10.0.0.1",
    )
    assert got_context.access_key_id == KEY.access_key_id


UNUSUAL = [
    {"FunctionName": "echo", "InvocationType": "Event"},
    {"FunctionName": "echo", "InvocationType": "DryRun"},
    {"FunctionName": "echo", "LogType": "Everything"},
    {"FunctionName": "echo", "TenantId": "tenant-1"},
    {"FunctionName": "echo", "Qualifier": "no/slash"},
    {"FunctionName": "echo", "Qualifier": ""},
    {"FunctionName": "bad name!"},
    {"FunctionName": "x" * 300},
]


@pytest.mark.parametrize("params", UNUSUAL)
def test_what_the_plan_does_not_read_whole_goes_to_the_gateway(params: dict[str, Any]) -> None:
    plan = InvokePlan(gateway(Recorder()))
    head = head_of(params)
    assert plan.admit(head.method, head.target, head.headers) is None


def test_an_other_head_is_not_an_invoke() -> None:
    plan = InvokePlan(gateway(Recorder()))
    head = head_of({"FunctionName": "echo"})
    assert plan.admit("GET", head.target, head.headers) is None
    assert plan.admit("POST", head.target.replace("/invocations", "/invocations/"), head.headers) is None
    assert plan.admit("POST", head.target + "?Qualifier=1&Other=2", head.headers) is None


def test_a_signature_that_does_not_hold_or_a_body_past_the_limit_leaves_it_to_the_gateway() -> None:
    handler = Recorder()
    plan = InvokePlan(gateway(handler))
    wrong = head_of({"FunctionName": "echo"}, secret="other")
    assert planned(plan, wrong) is None
    head = head_of({"FunctionName": "echo"})
    params = plan.admit(head.method, head.target, head.headers)
    assert params is not None
    assert asyncio.run(plan.answer(params, head.target, head.headers, None, "10.0.0.1")) is None
    assert handler.seen == []


def test_access_denied_is_rendered_in_the_gateway_s_words() -> None:
    head = head_of({"FunctionName": "echo"})
    by_gateway, by_plan = Recorder(), Recorder()
    answer = planned(InvokePlan(gateway(by_plan, allowed=False)), head)
    assert answer is not None and answer.status == 403
    same(generic(gateway(by_gateway, allowed=False), head), answer)
    assert by_plan.seen == by_gateway.seen == []


class FunctionMissing(Exception):
    code = "ResourceNotFoundException"
    message = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:echo"


@pytest.mark.parametrize("failure", [FunctionMissing(), RuntimeError("boom")])
def test_a_failing_call_is_the_same_error_either_way(failure: Exception) -> None:
    head = head_of({"FunctionName": "echo"})
    answer = planned(InvokePlan(gateway(Recorder(failure=failure))), head)
    assert answer is not None and answer.status >= 400
    expected = generic(gateway(Recorder(failure=failure)), head)
    assert (answer.status, json.loads(answer.body).get("Type")) == (
        expected.status,
        json.loads(expected.body).get("Type"),
    )
    if isinstance(failure, FunctionMissing):
        same(expected, answer)
