"""The Lambda Invoke operation: resolve the qualifier, run the event through the Invoker, render the outcome."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from lambkin.api.lambda_payloads import check_json
from lambkin.environments.results import FunctionError, Success
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvalidClientContext, Invoker, InvokeRequest, InvokeResult
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import Handler, RequestContext

STREAM_CHUNK_BYTES = 64 * 1024  # a buffered response is streamed back in PayloadChunk events of this size


class InvokeResolver(Protocol):
    async def resolve_for_invoke(self, function_name: str, qualifier: str | None) -> tuple[Any, str]: ...


EnqueueEvent = Callable[[dict[str, Any], Any, RequestContext], Awaitable[dict[str, Any]]]


def invoke_handlers(
    functions: InvokeResolver, invoker: Invoker, enqueue: EnqueueEvent | None = None
) -> dict[str, Handler]:
    """Invoke and InvokeWithResponseStream; `enqueue` takes InvocationType Event (api/lambda_async.py)."""
    resolved = ResolveCache(functions)

    async def resolve(params: dict[str, Any]) -> tuple[Any, str]:
        try:
            return await resolved.get(params["FunctionName"], params.get("Qualifier"))
        except FunctionsError as exc:
            raise AwsError(exc.code, exc.message, Type="User") from exc

    async def invoke(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        invocation_type = params.get("InvocationType") or "RequestResponse"
        version, executed = await resolve(params)
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
        result = await run(params, ctx, version)
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

    async def invoke_with_response_stream(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """The same invocation, answered as an event stream: PayloadChunk events, then InvokeComplete with
        the function's error, if any (the HTTP status is 200 either way)."""
        version, executed = await resolve(params)
        if params.get("InvocationType") == "DryRun":
            return {"StatusCode": 204}
        result = await run(params, ctx, version)
        outcome = result.outcome
        complete: dict[str, str] = {}
        if isinstance(outcome, FunctionError):
            complete["ErrorCode"] = outcome.error_type
            complete["ErrorDetails"] = outcome.payload.decode("utf-8", errors="replace")
        if params.get("LogType") == "Tail":
            complete["LogResult"] = base64.b64encode(result.log_tail).decode()

        async def events() -> AsyncIterator[dict[str, Any]]:
            if not isinstance(outcome, FunctionError):
                for start in range(0, len(outcome.payload), STREAM_CHUNK_BYTES):
                    yield {"PayloadChunk": {"Payload": outcome.payload[start : start + STREAM_CHUNK_BYTES]}}
            yield {"InvokeComplete": complete}

        content_type = outcome.content_type if isinstance(outcome, Success) else "application/json"
        return {
            "StatusCode": 200,
            "ExecutedVersion": executed,
            "ResponseStreamContentType": content_type,
            "EventStream": events(),
        }

    async def run(params: dict[str, Any], ctx: RequestContext, version: Any) -> InvokeResult:
        """One synchronous invocation of the resolved `version`, Lambda's errors raised as AwsErrors."""
        payload: bytes = params.get("Payload") or b""
        check_json(payload)
        request = InvokeRequest(
            payload=payload,
            invoked_function_arn=_invoked_arn(
                version.function_arn, params["FunctionName"], params.get("Qualifier")
            ),
            client_context=params.get("ClientContext"),
            trace_id=ctx.headers.get("x-amzn-trace-id"),
            request_id=ctx.request_id,
            log_tail=params.get("LogType") == "Tail",
        )
        try:
            return await invoker.invoke(version, request)
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

    return {"Invoke": invoke, "InvokeWithResponseStream": invoke_with_response_stream}


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
