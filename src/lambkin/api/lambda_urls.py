"""The FunctionUrlConfig operations: model input dicts → UrlService calls → model output dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambkin.functions.names import Arns
from lambkin.functions.urls import UrlConfig, UrlService
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]


def url_handlers(urls: UrlService, arns: Arns, function_url: Callable[[str], str]) -> dict[str, Handler]:
    """The "lambda" handler entries for Create/Get/Update/Delete/ListFunctionUrlConfigs; `function_url`
    gives a URL config's FunctionUrl by its url-id (api/http_urls.py)."""

    def render(config: UrlConfig, *, modified: bool = True, creation: bool = True) -> Output:
        out: Output = {
            "FunctionUrl": function_url(config.url_id),
            "FunctionArn": urls.function_arn(config),
            "AuthType": config.auth_type,
            "InvokeMode": config.invoke_mode,
        }
        if config.cors is not None:
            out["Cors"] = dict(config.cors)
        if creation:
            out["CreationTime"] = config.creation_time
        if modified:
            out["LastModifiedTime"] = config.last_modified_time
        return out

    async def create(params: Input, ctx: RequestContext) -> Output:
        ref = arns.parse(params["FunctionName"], params.get("Qualifier"))
        created = await urls.create(ref, params["AuthType"], params.get("Cors"), params.get("InvokeMode"))
        return render(created, modified=False)

    async def get(params: Input, ctx: RequestContext) -> Output:
        return render(await urls.get(arns.parse(params["FunctionName"], params.get("Qualifier"))))

    async def update(params: Input, ctx: RequestContext) -> Output:
        ref = arns.parse(params["FunctionName"], params.get("Qualifier"))
        updated = await urls.update(ref, params.get("AuthType"), params.get("Cors"), params.get("InvokeMode"))
        return render(updated)

    async def delete(params: Input, ctx: RequestContext) -> Output:
        await urls.delete(arns.parse(params["FunctionName"], params.get("Qualifier")))
        return {}

    async def list_configs(params: Input, ctx: RequestContext) -> Output:
        ref = arns.parse(params["FunctionName"], qualified=False)
        page = await urls.list(ref, params.get("Marker"), params.get("MaxItems"))
        out: Output = {"FunctionUrlConfigs": [render(config) for config in page.items]}
        if page.next_marker:
            out["NextMarker"] = page.next_marker
        return out

    return {
        "CreateFunctionUrlConfig": create,
        "GetFunctionUrlConfig": get,
        "UpdateFunctionUrlConfig": update,
        "DeleteFunctionUrlConfig": delete,
        "ListFunctionUrlConfigs": list_configs,
    }
