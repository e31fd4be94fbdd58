"""The API Gateway v2 (HTTP APIs) operations: model input dicts → HttpApis calls → model output dicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lambkin.events.http.api_service import HttpApis
from lambkin.events.http.apis import Authorizer, BadRequest, Deployment, Integration, Route, Stage
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]
Endpoint = Callable[[str], str]
"""The invoke URL of an API by its id (api/http_urls.py)."""

# input member → the record field it sets, for Update* (only members present change anything)
_API_FIELDS = {
    "Name": "name",
    "Description": "description",
    "Version": "version",
    "CorsConfiguration": "cors",
    "DisableExecuteApiEndpoint": "disable_execute_api_endpoint",
}
_ROUTE_FIELDS = {
    "RouteKey": "route_key",
    "Target": "target",
    "AuthorizationType": "authorization_type",
    "AuthorizerId": "authorizer_id",
    "AuthorizationScopes": "authorization_scopes",
    "OperationName": "operation_name",
}
_INTEGRATION_FIELDS = {
    "IntegrationType": "integration_type",
    "IntegrationUri": "uri",
    "PayloadFormatVersion": "payload_format",
    "TimeoutInMillis": "timeout_ms",
    "IntegrationMethod": "method",
    "Description": "description",
}
_AUTHORIZER_FIELDS = {
    "Name": "name",
    "AuthorizerType": "authorizer_type",
    "IdentitySource": "identity_source",
    "AuthorizerUri": "uri",
    "AuthorizerPayloadFormatVersion": "payload_format",
    "EnableSimpleResponses": "simple_responses",
    "AuthorizerResultTtlInSeconds": "ttl_s",
    "JwtConfiguration": "jwt",
}
_STAGE_FIELDS = {
    "AutoDeploy": "auto_deploy",
    "DeploymentId": "deployment_id",
    "Description": "description",
    "StageVariables": "variables",
    "DefaultRouteSettings": "default_route_settings",
    "RouteSettings": "route_settings",
}


def _changes(params: Input, fields: dict[str, str]) -> dict[str, Any]:
    return {
        field: tuple(params[member]) if isinstance(params[member], list) else params[member]
        for member, field in fields.items()
        if member in params
    }


def _page(items: list[Output], params: Input) -> Output:
    try:
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
    except ValueError:
        raise BadRequest("Invalid NextToken or MaxResults.") from None
    out: Output = {"Items": items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def route_output(route: Route) -> Output:
    out: Output = {
        "RouteId": route.route_id,
        "RouteKey": route.route_key,
        "AuthorizationType": route.authorization_type,
        "ApiKeyRequired": False,
        "ApiGatewayManaged": False,
    }
    if route.target:
        out["Target"] = route.target
    if route.authorizer_id:
        out["AuthorizerId"] = route.authorizer_id
    if route.authorization_scopes:
        out["AuthorizationScopes"] = list(route.authorization_scopes)
    if route.operation_name:
        out["OperationName"] = route.operation_name
    return out


def integration_output(integration: Integration) -> Output:
    out: Output = {
        "IntegrationId": integration.integration_id,
        "IntegrationType": integration.integration_type,
        "IntegrationUri": integration.uri,
        "IntegrationMethod": integration.method,
        "PayloadFormatVersion": integration.payload_format,
        "TimeoutInMillis": integration.timeout_ms,
        "ConnectionType": "INTERNET",
        "ApiGatewayManaged": False,
    }
    if integration.description:
        out["Description"] = integration.description
    return out


def authorizer_output(authorizer: Authorizer) -> Output:
    out: Output = {
        "AuthorizerId": authorizer.authorizer_id,
        "Name": authorizer.name,
        "AuthorizerType": authorizer.authorizer_type,
        "IdentitySource": list(authorizer.identity_source),
        "AuthorizerPayloadFormatVersion": authorizer.payload_format,
        "EnableSimpleResponses": authorizer.simple_responses,
        "AuthorizerResultTtlInSeconds": authorizer.ttl_s,
    }
    if authorizer.uri:
        out["AuthorizerUri"] = authorizer.uri
    if authorizer.jwt:
        out["JwtConfiguration"] = dict(authorizer.jwt)
    return out


def stage_output(stage: Stage) -> Output:
    out: Output = {
        "StageName": stage.name,
        "AutoDeploy": stage.auto_deploy,
        "CreatedDate": stage.created,
        "LastUpdatedDate": stage.updated,
        "DefaultRouteSettings": _route_settings(stage.default_route_settings),
        "RouteSettings": {key: _route_settings(settings) for key, settings in stage.route_settings.items()},
        "StageVariables": dict(stage.variables),
        "Tags": dict(stage.tags),
        "ApiGatewayManaged": False,
    }
    if stage.deployment_id:
        out["DeploymentId"] = stage.deployment_id
    if stage.description:
        out["Description"] = stage.description
    return out


def _route_settings(settings: Mapping[str, Any]) -> Output:
    return {"DetailedMetricsEnabled": False, **settings}


def deployment_output(deployment: Deployment) -> Output:
    out: Output = {
        "DeploymentId": deployment.deployment_id,
        "CreatedDate": deployment.created,
        "AutoDeployed": deployment.auto_deployed,
        "DeploymentStatus": "DEPLOYED",
    }
    if deployment.description:
        out["Description"] = deployment.description
    return out


def apigw_handlers(apis: HttpApis, endpoint: Endpoint) -> dict[str, Handler]:
    """The "apigatewayv2" handler entries lambkin serves (HTTP APIs' APIs, routes, integrations, stages,
    deployments, CORS and tags); the rest of the model is UnsupportedOperation."""

    def api_output(api: Any) -> Output:
        out: Output = {
            "ApiId": api.api_id,
            "Name": api.name,
            "ProtocolType": api.protocol_type,
            "ApiEndpoint": endpoint(api.api_id),
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "RouteSelectionExpression": "$request.method $request.path",
            "CreatedDate": api.created,
            "DisableExecuteApiEndpoint": api.disable_execute_api_endpoint,
            "IpAddressType": "ipv4",
            "ApiGatewayManaged": False,
            "Tags": dict(api.tags),
        }
        for member, value in (
            ("Description", api.description),
            ("Version", api.version),
            ("CorsConfiguration", None if api.cors is None else dict(api.cors)),
        ):
            if value is not None:
                out[member] = value
        return out

    async def create_api(params: Input, ctx: RequestContext) -> Output:
        api = await apis.create_api(
            params["Name"],
            protocol_type=params["ProtocolType"],
            description=params.get("Description"),
            version=params.get("Version"),
            cors=params.get("CorsConfiguration"),
            tags=params.get("Tags"),
            disable_execute_api_endpoint=bool(params.get("DisableExecuteApiEndpoint")),
            target=params.get("Target"),
            route_key=params.get("RouteKey"),
        )
        return api_output(api)

    async def get_api(params: Input, ctx: RequestContext) -> Output:
        return api_output(await apis.get_api(params["ApiId"]))

    async def get_apis(params: Input, ctx: RequestContext) -> Output:
        try:
            size = int(params["MaxResults"]) if params.get("MaxResults") else None
        except ValueError:
            raise BadRequest("Invalid MaxResults.") from None
        found, token = await apis.get_apis(params.get("NextToken"), size)
        out: Output = {"Items": [api_output(api) for api in found]}
        if token:
            out["NextToken"] = token
        return out

    async def update_api(params: Input, ctx: RequestContext) -> Output:
        if "Target" in params or "RouteKey" in params:
            raise BadRequest("Target and RouteKey are only taken by CreateApi (quick create).")
        return api_output(await apis.update_api(params["ApiId"], _changes(params, _API_FIELDS)))

    async def delete_api(params: Input, ctx: RequestContext) -> Output:
        await apis.delete_api(params["ApiId"])
        return {}

    async def delete_cors(params: Input, ctx: RequestContext) -> Output:
        await apis.update_api(params["ApiId"], {"cors": None})
        return {}

    async def create_route(params: Input, ctx: RequestContext) -> Output:
        fields = _changes(params, _ROUTE_FIELDS)
        route = await apis.create_route(params["ApiId"], fields.pop("route_key"), **fields)
        return route_output(route)

    async def update_route(params: Input, ctx: RequestContext) -> Output:
        changes = _changes(params, _ROUTE_FIELDS)
        return route_output(await apis.update_route(params["ApiId"], params["RouteId"], changes))

    async def create_integration(params: Input, ctx: RequestContext) -> Output:
        integration = await apis.create_integration(
            params["ApiId"],
            params["IntegrationType"],
            params.get("IntegrationUri"),
            params.get("PayloadFormatVersion"),
            timeout_ms=params.get("TimeoutInMillis"),
            method=params.get("IntegrationMethod"),
            description=params.get("Description"),
        )
        return integration_output(integration)

    async def update_integration(params: Input, ctx: RequestContext) -> Output:
        changes = _changes(params, _INTEGRATION_FIELDS)
        updated = await apis.update_integration(params["ApiId"], params["IntegrationId"], changes)
        return integration_output(updated)

    async def create_authorizer(params: Input, ctx: RequestContext) -> Output:
        fields = _changes(params, _AUTHORIZER_FIELDS)
        return authorizer_output(await apis.put_authorizer(params["ApiId"], None, fields))

    async def update_authorizer(params: Input, ctx: RequestContext) -> Output:
        fields = _changes(params, _AUTHORIZER_FIELDS)
        return authorizer_output(await apis.put_authorizer(params["ApiId"], params["AuthorizerId"], fields))

    async def create_stage(params: Input, ctx: RequestContext) -> Output:
        stage = await apis.create_stage(
            params["ApiId"],
            params["StageName"],
            auto_deploy=params.get("AutoDeploy"),
            deployment_id=params.get("DeploymentId"),
            description=params.get("Description"),
            variables=params.get("StageVariables"),
            tags=params.get("Tags"),
            default_route_settings=params.get("DefaultRouteSettings"),
            route_settings=params.get("RouteSettings"),
        )
        return stage_output(stage)

    async def update_stage(params: Input, ctx: RequestContext) -> Output:
        changes = _changes(params, _STAGE_FIELDS)
        return stage_output(await apis.update_stage(params["ApiId"], params["StageName"], changes))

    async def delete_route_settings(params: Input, ctx: RequestContext) -> Output:
        await apis.delete_route_settings(params["ApiId"], params["StageName"], params["RouteKey"])
        return {}

    async def create_deployment(params: Input, ctx: RequestContext) -> Output:
        deployment = await apis.create_deployment(
            params["ApiId"], params.get("StageName"), params.get("Description")
        )
        return deployment_output(deployment)

    def one(kind: type[Any], member: str, render: Callable[[Any], Output]) -> Handler:
        async def get(params: Input, ctx: RequestContext) -> Output:
            return render(await apis.get_part(params["ApiId"], kind, params[member]))

        return get

    def listing(kind: type[Any], render: Callable[[Any], Output]) -> Handler:
        async def get_all(params: Input, ctx: RequestContext) -> Output:
            return _page([render(item) for item in await apis.list_parts(params["ApiId"], kind)], params)

        return get_all

    def deleting(kind: type[Any], member: str) -> Handler:
        async def delete(params: Input, ctx: RequestContext) -> Output:
            await apis.delete_part(params["ApiId"], kind, params[member])
            return {}

        return delete

    async def get_tags(params: Input, ctx: RequestContext) -> Output:
        return {"Tags": await apis.tags(params["ResourceArn"])}

    async def tag_resource(params: Input, ctx: RequestContext) -> Output:
        await apis.retag(params["ResourceArn"], params.get("Tags") or {}, ())
        return {}

    async def untag_resource(params: Input, ctx: RequestContext) -> Output:
        await apis.retag(params["ResourceArn"], {}, params.get("TagKeys") or [])
        return {}

    return {
        "CreateApi": create_api,
        "GetApi": get_api,
        "GetApis": get_apis,
        "UpdateApi": update_api,
        "DeleteApi": delete_api,
        "DeleteCorsConfiguration": delete_cors,
        "CreateRoute": create_route,
        "GetRoute": one(Route, "RouteId", route_output),
        "GetRoutes": listing(Route, route_output),
        "UpdateRoute": update_route,
        "DeleteRoute": deleting(Route, "RouteId"),
        "CreateIntegration": create_integration,
        "GetIntegration": one(Integration, "IntegrationId", integration_output),
        "GetIntegrations": listing(Integration, integration_output),
        "UpdateIntegration": update_integration,
        "DeleteIntegration": deleting(Integration, "IntegrationId"),
        "CreateAuthorizer": create_authorizer,
        "GetAuthorizer": one(Authorizer, "AuthorizerId", authorizer_output),
        "GetAuthorizers": listing(Authorizer, authorizer_output),
        "UpdateAuthorizer": update_authorizer,
        "DeleteAuthorizer": deleting(Authorizer, "AuthorizerId"),
        "CreateStage": create_stage,
        "GetStage": one(Stage, "StageName", stage_output),
        "GetStages": listing(Stage, stage_output),
        "UpdateStage": update_stage,
        "DeleteStage": deleting(Stage, "StageName"),
        "DeleteRouteSettings": delete_route_settings,
        "CreateDeployment": create_deployment,
        "GetDeployment": one(Deployment, "DeploymentId", deployment_output),
        "GetDeployments": listing(Deployment, deployment_output),
        "DeleteDeployment": deleting(Deployment, "DeploymentId"),
        "GetTags": get_tags,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
    }
