"""The async faces of the Lambda API: Invoke's Event branch, InvokeAsync, and the EventInvokeConfig operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambkin.api.lambda_payloads import check_json, too_large
from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.functions.errors import FunctionNotFound, FunctionsError, ResourceConflict
from lambkin.functions.event_invoke_config import EventInvokeConfig, EventInvokeConfigService
from lambkin.functions.names import Arns
from lambkin.functions.service import FunctionService
from lambkin.invoke.async_dispatcher import Dispatcher, FunctionBusy, FunctionGone, Target
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.protocol.errors import AwsError
from lambkin.protocol.service import Handler, RequestContext

EVENT_LIMIT = 1_048_576  # Invoke with InvocationType Event
INVOKE_ASYNC_LIMIT = 262_144  # the deprecated InvokeAsync


def resolver(functions: FunctionService) -> Callable[[str, str | None], Any]:
    """The dispatcher's view of the control plane: a Target, FunctionGone or FunctionBusy."""

    async def resolve(name: str, qualifier: str | None) -> Target:
        try:
            version, executed = await functions.resolve_for_invoke(name, qualifier)
        except FunctionNotFound as exc:
            raise FunctionGone(exc.message) from exc
        except ResourceConflict as exc:
            raise FunctionBusy(exc.message) from exc
        return Target(version, executed, version.dead_letter_target_arn)

    return resolve


def _aws(exc: FunctionsError) -> AwsError:
    return AwsError(exc.code, exc.message, Type="User")


class AsyncInvokes:
    """Accepts events (202 once committed) and serves the EventInvokeConfig operations."""

    def __init__(
        self,
        arns: Arns,
        functions: FunctionService,
        dispatcher: Dispatcher,
        configs: EventInvokeConfigService,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.arns = arns
        self.functions = functions
        self.dispatcher = dispatcher
        self.configs = configs
        self.clock = clock

    async def enqueue(self, params: dict[str, Any], version: Any, ctx: RequestContext) -> dict[str, Any]:
        """Invoke's Event branch, after the function resolved: stores the event, then answers 202."""
        payload: bytes = params.get("Payload") or b""
        if len(payload) > EVENT_LIMIT:
            raise too_large(EVENT_LIMIT)
        await self._accept(params["FunctionName"], params.get("Qualifier"), payload, ctx, version.name)
        return {"StatusCode": 202}

    async def _accept(
        self, name: str, qualifier: str | None, payload: bytes, ctx: RequestContext, function: str
    ) -> None:
        check_json(payload)
        try:
            ref = self.arns.parse(name, qualifier)
        except FunctionsError as exc:
            raise _aws(exc) from exc
        now = self.clock.now()
        event = AsyncEvent(
            request_id=ctx.request_id,
            function=function,
            qualifier=ref.qualifier,
            invoked_arn=self.arns.of(ref),
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
        try:
            version, _ = await self.functions.resolve_for_invoke(params["FunctionName"], None)
        except FunctionsError as exc:
            raise _aws(exc) from exc
        await self._accept(params["FunctionName"], None, payload, ctx, version.name)
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
        try:
            config = await self.configs.put(
                params["FunctionName"],
                params.get("Qualifier"),
                params.get("MaximumRetryAttempts"),
                params.get("MaximumEventAgeInSeconds"),
                destinations,
                patch=patch,
            )
        except FunctionsError as exc:
            raise _aws(exc) from exc
        return self.render(config)

    def handlers(self) -> dict[str, Handler]:
        async def put(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            return await self._put(params, patch=False)

        async def update(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            return await self._put(params, patch=True)

        async def get(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            try:
                return self.render(await self.configs.get(params["FunctionName"], params.get("Qualifier")))
            except FunctionsError as exc:
                raise _aws(exc) from exc

        async def delete(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            try:
                await self.configs.delete(params["FunctionName"], params.get("Qualifier"))
            except FunctionsError as exc:
                raise _aws(exc) from exc
            return {}

        async def listing(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
            try:
                rows, marker = await self.configs.list(
                    params["FunctionName"], params.get("Marker"), params.get("MaxItems")
                )
            except FunctionsError as exc:
                raise _aws(exc) from exc
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
