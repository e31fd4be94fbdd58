"""The Invoke handler: outcomes rendered as Lambda does, throttles and bad input as AWS errors, the resolver."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from lambkin.api.lambda_invoke import invoke_handlers
from lambkin.environments.results import FunctionError, Outcome, Success
from lambkin.functions.cache import ReadCache
from lambkin.functions.errors import not_found
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.states import State
from lambkin.identity.principals import root
from lambkin.invoke.concurrency import RESERVED_LIMIT, Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult
from lambkin.invoke.targets import Target, Targets
from lambkin.protocol import dialect
from lambkin.protocol.errors import AwsError, DomainError
from lambkin.protocol.service import RequestContext
from lambkin.testing.versions import FakeVersion

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
ARNS = Arns("us-east-1", "000000000000")


@dataclass(frozen=True)
class ActiveVersion(FakeVersion):
    state: State = State.ACTIVE


@dataclass
class Functions:
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    missing: bool = False
    arns: Arns = ARNS
    cache: ReadCache = field(default_factory=ReadCache)

    async def get(self, ref: FunctionRef) -> tuple[FakeVersion, None, None]:
        self.calls.append((ref.name, ref.qualifier))
        if self.missing:
            raise not_found(ARN)
        number = ref.qualifier if ref.qualifier and ref.qualifier.isdigit() else "$LATEST"
        return ActiveVersion(version=number), None, None


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
    return RequestContext(
        "lambda", "Invoke", "us-east-1", "000000000000", "AK", root("000000000000"), "req-1", {}, "127.0.0.1"
    )


async def _no_events(params: dict[str, Any], target: Target, ctx: RequestContext) -> dict[str, Any]:
    raise AssertionError("these tests invoke synchronously")


async def call(invoker: Invoker, functions: Functions | None = None, **params: Any) -> dict[str, Any]:
    """The handler's answer; its domain errors as the gateway renders them (`dialect.domain`)."""
    targets = Targets(functions or Functions())  # type: ignore[arg-type]
    handler = invoke_handlers(targets.resolve, invoker, _no_events)["Invoke"]  # type: ignore[arg-type]
    try:
        return await handler({"FunctionName": "fn", **params}, ctx())
    except Exception as failure:
        if isinstance(failure, DomainError):
            raise dialect.domain("lambda", failure) from failure
        raise


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


async def test_invoked_arn_keeps_the_callers_qualifier() -> None:
    targets = Targets(Functions())  # type: ignore[arg-type]
    assert (await targets.resolve("fn", None)).invoked_arn == ARN
    assert (await targets.resolve("fn", "prod")).invoked_arn == f"{ARN}:prod"
    assert (await targets.resolve("fn:7", None)).invoked_arn == f"{ARN}:7"
    assert (await targets.resolve(f"{ARN}:live", None)).invoked_arn == f"{ARN}:live"


async def test_every_invoke_after_a_write_resolves_its_version_afresh() -> None:
    """Targets live in the control plane's read cache: a write of the function drops them."""
    functions = Functions()
    targets = Targets(functions)  # type: ignore[arg-type]
    await targets.resolve("fn", None)
    await targets.resolve("fn", None)  # warm: kept
    functions.cache.invalidate("fn")  # what every committed write of "fn" does
    await targets.resolve("fn", None)
    await targets.resolve("fn", "prod")
    assert functions.calls == [("fn", None), ("fn", None), ("fn", "prod")]
