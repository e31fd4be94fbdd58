"""The Lambda Invoke operation: resolve the qualifier, run the event through the Invoker, render the outcome."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from lambkin.api.lambda_payloads import check_json
from lambkin.environments.results import FunctionError
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvalidClientContext, Invoker, InvokeRequest
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import Handler, RequestContext


class InvokeResolver(Protocol):
    async def resolve_for_invoke(self, function_name: str, qualifier: str | None) -> tuple[Any, str]: ...


EnqueueEvent = Callable[[dict[str, Any], Any, RequestContext], Awaitable[dict[str, Any]]]


def invoke_handlers(
    functions: InvokeResolver, invoker: Invoker, enqueue: EnqueueEvent | None = None
) -> dict[str, Handler]:
    """The handler map entry for Invoke; `enqueue` takes InvocationType Event (api/lambda_async.py)."""
    resolved = ResolveCache(functions)

    async def invoke(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name: str = params["FunctionName"]
        qualifier: str | None = params.get("Qualifier")
        invocation_type = params.get("InvocationType") or "RequestResponse"
        payload: bytes = params.get("Payload") or b""
        try:
            version, executed = await resolved.get(name, qualifier)
        except FunctionsError as exc:
            raise AwsError(exc.code, exc.message, Type="User") from exc
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if invocation_type == "Event" and enqueue is not None:
            return await enqueue(params, version, ctx)
        if invocation_type == "Event":
            raise AwsError(
                "InvalidParameterValueException",
                "Asynchronous invocation (InvocationType Event) is not supported by this server yet.",
                Type="User",
            )
        check_json(payload)
        request = InvokeRequest(
            payload=payload,
            invoked_function_arn=_invoked_arn(version.function_arn, name, qualifier),
            client_context=params.get("ClientContext"),
            trace_id=ctx.headers.get("x-amzn-trace-id"),
            request_id=ctx.request_id,
            log_tail=params.get("LogType") == "Tail",
        )
        try:
            result = await invoker.invoke(version, request)
        except Throttled as exc:
            raise AwsError(
                "TooManyRequestsException", "Rate Exceeded.", Type="User", Reason=exc.reason
            ) from exc
        except InvalidClientContext as exc:
            raise AwsError(
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
                Type="User",
            ) from exc
        output: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": executed,
            "Payload": result.outcome.payload,
        }
        if isinstance(result.outcome, FunctionError):
            output["FunctionError"] = "Unhandled"
        if params.get("LogType") == "Tail":
            output["LogResult"] = base64.b64encode(result.log_tail).decode()
        return output

    return {"Invoke": invoke}


class ResolveCache:
    """Resolves a name and qualifier for each invoke. The functions part caches its reads coherently
    (invalidated by every committed write), so nothing here may keep them longer."""

    def __init__(self, functions: InvokeResolver) -> None:
        self.functions = functions

    async def get(self, name: str, qualifier: str | None) -> tuple[Any, str]:
        return await self.functions.resolve_for_invoke(name, qualifier)


def _invoked_arn(function_arn: str, name: str, qualifier: str | None) -> str:
    """The ARN the caller used, with its version or alias (Lambda-Runtime-Invoked-Function-Arn)."""
    if qualifier:
        return f"{function_arn}:{qualifier}"
    tail = name.rsplit(":function:", 1)[-1] if ":function:" in name else name
    if ":" in tail:
        return f"{function_arn}:{tail.split(':', 1)[1]}"
    return function_arn
