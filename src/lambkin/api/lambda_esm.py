"""The event source mapping operations of the Lambda API: parse → MappingService → EventSourceMappingConfiguration."""

from __future__ import annotations

from typing import Any

from lambkin.events.mapping_service import FunctionInfo, FunctionLookup, MappingService
from lambkin.events.mappings import Mapping
from lambkin.functions.names import Arns
from lambkin.functions.service import FunctionService
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]


def function_lookup(arns: Arns, functions: FunctionService) -> FunctionLookup:
    """The control plane's view for mappings: the named function (and qualifier), which must exist."""

    async def find(raw_name: str) -> FunctionInfo:
        ref = arns.parse(raw_name)
        version, _, _ = await functions.get(ref)
        return FunctionInfo(ref.name, ref.qualifier, arns.of(ref), version.timeout, version.role)

    return find


def render(service: MappingService, mapping: Mapping) -> Output:
    out: Output = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.window_s,
        "EventSourceArn": mapping.event_source_arn,
        "FunctionArn": mapping.function_arn,
        "LastModified": mapping.last_modified,
        "State": mapping.state.value,
        "StateTransitionReason": mapping.reason,
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if mapping.report_failures else [],
        "EventSourceMappingArn": service.arn(mapping),
    }
    if mapping.max_concurrency is not None:
        out["ScalingConfig"] = {"MaximumConcurrency": mapping.max_concurrency}
    return out


def esm_handlers(service: MappingService, arns: Arns) -> dict[str, Handler]:
    async def create(params: Input, ctx: RequestContext) -> Output:
        return render(service, await service.create(params))

    async def get(params: Input, ctx: RequestContext) -> Output:
        return render(service, await service.find(params["UUID"]))

    async def update(params: Input, ctx: RequestContext) -> Output:
        return render(service, await service.update(params["UUID"], params))

    async def delete(params: Input, ctx: RequestContext) -> Output:
        return render(service, await service.delete(params["UUID"]))

    async def listing(params: Input, ctx: RequestContext) -> Output:
        function = None
        if params.get("FunctionName"):
            ref = arns.parse(params["FunctionName"])
            function = FunctionInfo(ref.name, ref.qualifier, arns.of(ref), 0)
        rows, marker = service.list(
            function, params.get("EventSourceArn"), params.get("Marker"), params.get("MaxItems")
        )
        out: Output = {"EventSourceMappings": [render(service, m) for m in rows]}
        if marker is not None:
            out["NextMarker"] = marker
        return out

    return {
        "CreateEventSourceMapping": create,
        "GetEventSourceMapping": get,
        "UpdateEventSourceMapping": update,
        "DeleteEventSourceMapping": delete,
        "ListEventSourceMappings": listing,
    }
