"""The Lambda Invoke operation: resolve the qualifier, run the event through the Invoker, render the outcome."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from lambkin.environments.results import FunctionError
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvalidClientContext, Invoker, InvokeRequest
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import Handler, RequestContext

CACHE_S = 0.1


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
        _check_json(payload)
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
    """Remembers for a moment what a name resolved to, so a stream of warm invokes skips the database.

    Only for unqualified names, $LATEST and version numbers (aliases draw their routing weights per invoke);
    an update is seen within CACHE_S, as Lambda's own invokes see updates eventually.
    """

    def __init__(self, functions: InvokeResolver, clock: Callable[[], float] = time.monotonic) -> None:
        self.functions = functions
        self.clock = clock
        self._entries: dict[tuple[str, str | None], tuple[float, tuple[Any, str]]] = {}

    async def get(self, name: str, qualifier: str | None) -> tuple[Any, str]:
        key = (name, qualifier)
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < CACHE_S:
            return entry[1]
        result = await self.functions.resolve_for_invoke(name, qualifier)
        if _cacheable(name, qualifier):
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (now, result)
        return result


def _cacheable(name: str, qualifier: str | None) -> bool:
    if qualifier is not None:
        return qualifier == "$LATEST" or qualifier.isdigit()
    tail = name.rsplit(":function:", 1)[-1]
    return ":" not in tail or tail.endswith(":$LATEST") or tail.rsplit(":", 1)[-1].isdigit()


def _check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AwsError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}", Type="User"
        ) from exc


def _invoked_arn(function_arn: str, name: str, qualifier: str | None) -> str:
    """The ARN the caller used, with its version or alias (Lambda-Runtime-Invoked-Function-Arn)."""
    if qualifier:
        return f"{function_arn}:{qualifier}"
    tail = name.rsplit(":function:", 1)[-1] if ":function:" in name else name
    if ":" in tail:
        return f"{function_arn}:{tail.split(':', 1)[1]}"
    return function_arn
