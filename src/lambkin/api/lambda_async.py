"""The async faces of the Lambda API: Invoke's Event branch, InvokeAsync, and the EventInvokeConfig operations."""

from __future__ import annotations

from typing import Any

from lambkin.api.lambda_payloads import check_json, too_large
from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.functions.event_invoke_config import EventInvokeConfig, EventInvokeConfigService
from lambkin.functions.names import Arns
from lambkin.invoke.async_dispatcher import Dispatcher
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.invoke.targets import Resolve, Target
from lambkin.protocol.service import Handler, RequestContext

EVENT_LIMIT = 1_048_576  # Invoke with InvocationType Event
INVOKE_ASYNC_LIMIT = 262_144  # the deprecated InvokeAsync


class AsyncInvokes:
    """Accepts events (202 once committed) and serves the EventInvokeConfig operations."""

    def __init__(
        self,
        arns: Arns,
        resolve: Resolve,
        dispatcher: Dispatcher,
        configs: EventInvokeConfigService,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.arns = arns
        self.resolve = resolve
        self.dispatcher = dispatcher
        self.configs = configs
        self.clock = clock

    async def enqueue(self, params: dict[str, Any], target: Target, ctx: RequestContext) -> dict[str, Any]:
        """Invoke's Event branch, after the function resolved: stores the event, then answers 202."""
        payload: bytes = params.get("Payload") or b""
        if len(payload) > EVENT_LIMIT:
            raise too_large(EVENT_LIMIT)
        await self._accept(target, payload, ctx)
        return {"StatusCode": 202}

    async def _accept(self, target: Target, payload: bytes, ctx: RequestContext) -> None:
        check_json(payload)
        now = self.clock.now()
        event = AsyncEvent(
            request_id=ctx.request_id,
            function=target.version.name,
            qualifier=target.qualifier,
            invoked_arn=target.invoked_arn,
            payload=payload,
            accepted_at=now,
            due=now,
        )
        await self.dispatcher.accept([event])

    async def invoke_async(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        args = params.get("InvokeArgs") or b""
        payload = args if isinstance(args, bytes) else args.read()
        if len(payload) > INVOKE_ASYNC_LIMIT:
            raise too_large(INVOKE_ASYNC_LIMIT)
        target = await self.resolve(params["FunctionName"], None)
        await self._accept(target, payload, ctx)
        return {"Status": 202}

    def render(self, config: EventInvokeConfig) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LastModified": config.last_modified,
            "FunctionArn": self.arns.qualified(config.function, config.qualifier),
            "DestinationConfig": {
                "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
                "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
            },
        }
        if config.max_retries is not None:
            out["MaximumRetryAttempts"] = config.max_retries
        if config.max_age_s is not None:
            out["MaximumEventAgeInSeconds"] = config.max_age_s
        return out

    async def _put(self, params: dict[str, Any], patch: bool) -> dict[str, Any]:
        given = params.get("DestinationConfig")
        destinations: dict[str, str | None] | None = None
        if given is not None:
            destinations = {key: value.get("Destination") for key, value in given.items()}
        config = await self.configs.put(
            params["FunctionName"],
            params.get("Qualifier"),
            params.get("MaximumRetryAttempts"),
            params.get("MaximumEventAgeInSeconds"),
            destinations,
            patch=patch,
        )
        return self.render(config)

    def handlers(self) -> dict[str, Handler]:
        async def put(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            return await self._put(params, patch=False)

        async def update(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            return await self._put(params, patch=True)

        async def get(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            return self.render(await self.configs.get(params["FunctionName"], params.get("Qualifier")))

        async def delete(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            await self.configs.delete(params["FunctionName"], params.get("Qualifier"))
            return {}

        async def listing(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            rows, marker = await self.configs.list(
                params["FunctionName"], params.get("Marker"), params.get("MaxItems")
            )
            out: dict[str, Any] = {"FunctionEventInvokeConfigs": [self.render(r) for r in rows]}
            if marker is not None:
                out["NextMarker"] = marker
            return out

        return {
            "InvokeAsync": self.invoke_async,
            "PutFunctionEventInvokeConfig": put,
            "UpdateFunctionEventInvokeConfig": update,
            "GetFunctionEventInvokeConfig": get,
            "DeleteFunctionEventInvokeConfig": delete,
            "ListFunctionEventInvokeConfigs": listing,
        }
