"""The Lambda Invoke operation: resolve the qualifier, run the event through the Invoker, render the outcome."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from lambkin.api.lambda_payloads import check_json
from lambkin.api.lambda_stream import response_stream_events
from lambkin.environments.results import FunctionError, Success
from lambkin.invoke.invoker import InvokeRequest, InvokeResult, InvokeTarget
from lambkin.invoke.targets import Resolve, Target
from lambkin.protocol.service import Handler, RequestContext

EnqueueEvent = Callable[[dict[str, Any], Target, RequestContext], Awaitable[dict[str, Any]]]


class Invoking(Protocol):
    """What the Invoke handlers ask of the Invoker (invoke.invoker.Invoker)."""

    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult: ...

    async def run_here(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult: ...


def invoke_handlers(resolve: Resolve, invoker: Invoking, enqueue: EnqueueEvent) -> dict[str, Handler]:
    """Invoke and InvokeWithResponseStream; `enqueue` takes InvocationType Event (api/lambda_async.py).

    The resolver's and the Invoker's errors (not found, Pending, Throttled, a bad client context) are domain
    errors: the gateway renders them."""

    async def invoke(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        invocation_type = params.get("InvocationType") or "RequestResponse"
        target = await resolve(params["FunctionName"], params.get("Qualifier"))
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        if invocation_type == "Event":
            return await enqueue(params, target, ctx)
        result = await run(params, ctx, target)
        output: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": target.executed_version,
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
        target = await resolve(params["FunctionName"], params.get("Qualifier"))
        if params.get("InvocationType") == "DryRun":
            return {"StatusCode": 204}
        result = await run(params, ctx, target)
        outcome = result.outcome
        complete: dict[str, str] = {}
        if isinstance(outcome, FunctionError):
            complete["ErrorCode"] = outcome.error_type
            complete["ErrorDetails"] = outcome.payload.decode("utf-8", errors="replace")
        if params.get("LogType") == "Tail":
            complete["LogResult"] = base64.b64encode(result.log_tail).decode()

        content_type = outcome.content_type if isinstance(outcome, Success) else "application/json"
        return {
            "StatusCode": 200,
            "ExecutedVersion": target.executed_version,
            "ResponseStreamContentType": content_type,
            "EventStream": response_stream_events(outcome, complete),
        }

    async def run(params: dict[str, Any], ctx: RequestContext, target: Target) -> InvokeResult:
        """One synchronous invocation of the resolved `target`, placed by the Invoker unless a node placed it
        already (api/invoke_relay.py)."""
        payload: bytes = params.get("Payload") or b""
        check_json(payload)
        request = InvokeRequest(
            payload=payload,
            invoked_function_arn=target.invoked_arn,
            client_context=params.get("ClientContext"),
            trace_id=ctx.headers.get("x-amzn-trace-id"),
            request_id=ctx.request_id,
            log_tail=params.get("LogType") == "Tail",
        )
        if ctx.relayed_by is not None:  # placed already (relayed here by a peer): it runs here
            return await invoker.run_here(target.version, request)
        return await invoker.invoke(target.version, request)

    return {"Invoke": invoke, "InvokeWithResponseStream": invoke_with_response_stream}
