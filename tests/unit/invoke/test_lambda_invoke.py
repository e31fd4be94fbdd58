"""The Invoke handler: outcomes rendered as Lambda does, throttles and bad input as AWS errors, the resolve cache."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from lambkin.api.lambda_invoke import ResolveCache, _invoked_arn, invoke_handlers
from lambkin.environments.results import FunctionError, Outcome, Success
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.concurrency import RESERVED_LIMIT, Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import RequestContext
from lambkin.testing.versions import FakeVersion

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


@dataclass
class Functions:
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    missing: bool = False

    async def resolve_for_invoke(self, name: str, qualifier: str | None) -> tuple[FakeVersion, str]:
        self.calls.append((name, qualifier))
        if self.missing:
            raise NotFound("ResourceNotFoundException", f"Function not found: {ARN}")
        return FakeVersion(), qualifier if qualifier and qualifier.isdigit() else "$LATEST"


class NotFound(FunctionsError):
    def __init__(self, code: str, message: str) -> None:
        Exception.__init__(self, message)
        self.code = code
        self.message = message


@dataclass
class Invoker:
    outcome: Outcome = field(default_factory=lambda: Success(b'{"ok": true}'))
    throttle: bool = False
    requests: list[InvokeRequest] = field(default_factory=list)

    async def invoke(self, version: Any, request: InvokeRequest) -> InvokeResult:
        if self.throttle:
            raise Throttled(RESERVED_LIMIT)
        self.requests.append(request)
        return InvokeResult(
            request.request_id or "id", self.outcome, b"START RequestId: id Version: $LATEST\n"
        )


def ctx() -> RequestContext:
    return RequestContext("lambda", "Invoke", "us-east-1", "000000000000", "AK", "req-1", {}, "127.0.0.1")


async def call(invoker: Invoker, functions: Functions | None = None, **params: Any) -> dict[str, Any]:
    handler = invoke_handlers(functions or Functions(), invoker)["Invoke"]  # type: ignore[arg-type]
    return await handler({"FunctionName": "fn", **params}, ctx())


async def test_success_with_tail_and_executed_version() -> None:
    invoker = Invoker()
    output = await call(invoker, Payload=b'{"a": 1}', LogType="Tail", ClientContext="e30=")
    assert output["StatusCode"] == 200
    assert output["ExecutedVersion"] == "$LATEST"
    assert output["Payload"] == b'{"ok": true}'
    assert "FunctionError" not in output
    assert base64.b64decode(output["LogResult"]).startswith(b"START RequestId:")
    [request] = invoker.requests
    assert request.request_id == "req-1"  # the invocation's RequestId is the API request's
    assert request.client_context == "e30="
    assert request.log_tail is True
    assert request.invoked_function_arn == ARN


async def test_function_error_is_unhandled_with_status_200() -> None:
    error = FunctionError("Runtime.ExitError", b'{"errorType": "Runtime.ExitError"}')
    output = await call(Invoker(outcome=error), Payload=b"{}")
    assert output["StatusCode"] == 200
    assert output["FunctionError"] == "Unhandled"
    assert output["Payload"] == error.payload
    assert "LogResult" not in output


async def test_dry_run_checks_the_function_without_invoking() -> None:
    invoker = Invoker()
    assert await call(invoker, InvocationType="DryRun") == {"StatusCode": 204}
    assert invoker.requests == []
    with pytest.raises(AwsError) as caught:
        await call(invoker, Functions(missing=True), InvocationType="DryRun")
    assert caught.value.code == "ResourceNotFoundException"


async def test_throttle_is_too_many_requests_with_its_reason() -> None:
    with pytest.raises(AwsError) as caught:
        await call(Invoker(throttle=True), Payload=b"{}")
    assert caught.value.code == "TooManyRequestsException"
    assert caught.value.fields == {"Type": "User", "Reason": RESERVED_LIMIT}


async def test_payload_must_be_json() -> None:
    with pytest.raises(AwsError) as caught:
        await call(Invoker(), Payload=b"not json")
    assert caught.value.code == "InvalidRequestContentException"


def test_invoked_arn_keeps_the_callers_qualifier() -> None:
    assert _invoked_arn(ARN, "fn", None) == ARN
    assert _invoked_arn(ARN, "fn", "prod") == f"{ARN}:prod"
    assert _invoked_arn(ARN, "fn:7", None) == f"{ARN}:7"
    assert _invoked_arn(ARN, f"{ARN}:live", None) == f"{ARN}:live"


async def test_every_invoke_resolves_its_version_afresh() -> None:
    functions = Functions()
    cache = ResolveCache(functions)
    await cache.get("fn", None)
    await cache.get("fn", None)
    await cache.get("fn", "prod")
    assert functions.calls == [("fn", None), ("fn", None), ("fn", "prod")]
