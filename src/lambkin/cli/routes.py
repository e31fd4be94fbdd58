"""`lambkin routes list|add|remove`: the routes of the HTTP API named `gateway` (served at /gateway/...),
through the server's API Gateway v2 API; `add` lets API Gateway invoke the function, as AWS's console does."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lambkin.cli.functions import add_client_arguments, calling, lambda_client
from lambkin.events.http.routes import FORMATS, GATEWAY_API


def register(commands: Any) -> None:
    cmd = commands.add_parser("routes", help="the routes of the HTTP API `gateway` (served at /gateway/...)")
    verbs = cmd.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="print the routes")
    add = verbs.add_parser("add", help="add or replace the route for METHOD PATH")
    add.add_argument("method", help="GET, POST, ... or ANY")
    add.add_argument("path", help="/items/{id}, /files/{proxy+} or $default")
    add.add_argument("function", help="the function's name")
    add.add_argument("--qualifier", help="an alias or version")
    add.add_argument("--format", choices=FORMATS, default="2.0", help="payload format (default 2.0)")
    add.add_argument(
        "--multi-value-headers", action="store_true", help="ALB: lambda.multi_value_headers.enabled"
    )
    remove = verbs.add_parser("remove", help="remove the route for METHOD PATH")
    remove.add_argument("method")
    remove.add_argument("path")
    for sub in (listing, add, remove):
        add_client_arguments(sub)
    cmd.set_defaults(handler=calling(run))


def _key(method: str, path: str) -> str:
    return "$default" if path == "$default" else f"{method.upper()} {path}"


def _gateway(api: Any, create: bool) -> str | None:
    """The id of the API named gateway (created, with its auto-deploying $default stage, if asked)."""
    for page in api.get_paginator("get_apis").paginate():
        for item in page["Items"]:
            if item["Name"] == GATEWAY_API:
                return str(item["ApiId"])
    if not create:
        return None
    api_id = str(api.create_api(Name=GATEWAY_API, ProtocolType="HTTP")["ApiId"])
    api.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api_id


def _routes(api: Any, api_id: str) -> list[dict[str, Any]]:
    integrations = {i["IntegrationId"]: i for i in api.get_integrations(ApiId=api_id)["Items"]}
    listed = []
    for route in api.get_routes(ApiId=api_id)["Items"]:
        integration = integrations.get(str(route.get("Target", "")).removeprefix("integrations/"), {})
        key = route["RouteKey"]
        method, _, path = ("ANY", "", "$default") if key == "$default" else key.partition(" ")
        uri = str(integration.get("IntegrationUri", ""))
        function = uri.split(":function:", 1)[-1]
        name, _, qualifier = function.partition(":")
        payload = str(integration.get("PayloadFormatVersion", ""))
        listed.append(
            {
                "method": method,
                "path": path,
                "function": name,
                "qualifier": qualifier or None,
                "format": "alb" if payload.startswith("alb") else payload,
                "multiValueHeaders": payload == "alb-multi-value",
                "routeId": route["RouteId"],
                "integrationId": integration.get("IntegrationId"),
            }
        )
    return listed


def run(args: argparse.Namespace) -> int:
    api = lambda_client(args, "apigatewayv2")
    api_id = _gateway(api, create=args.verb == "add")
    routes = [] if api_id is None else _routes(api, api_id)
    key = _key(args.method, args.path) if args.verb != "list" else ""
    if args.verb == "add":
        assert api_id is not None
        functions = lambda_client(args)
        arn = functions.get_function(FunctionName=args.function, Qualifier=args.qualifier or "$LATEST")
        function_arn = str(arn["Configuration"]["FunctionArn"])
        if not args.qualifier:
            function_arn = function_arn.removesuffix(":$LATEST")
        payload = (
            ("alb-multi-value" if args.multi_value_headers else "alb")
            if args.format == "alb"
            else args.format
        )
        integration = api.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=function_arn,
            PayloadFormatVersion=payload,
        )
        target = f"integrations/{integration['IntegrationId']}"
        existing = next((r for r in routes if _key(r["method"], r["path"]) == key), None)
        if existing is None:
            api.create_route(ApiId=api_id, RouteKey=key, Target=target)
        else:
            api.update_route(ApiId=api_id, RouteId=existing["routeId"], Target=target)
            api.delete_integration(ApiId=api_id, IntegrationId=existing["integrationId"])
        _allow(functions, args, function_arn, api_id)
        routes = _routes(api, api_id)
    elif args.verb == "remove":
        existing = next((r for r in routes if _key(r["method"], r["path"]) == key), None)
        if existing is None or api_id is None:
            print(f"lambkin: no route {key}")
            return 1
        api.delete_route(ApiId=api_id, RouteId=existing["routeId"])
        api.delete_integration(ApiId=api_id, IntegrationId=existing["integrationId"])
        routes = [r for r in routes if r is not existing]
    if args.json:
        print(json.dumps({"routes": routes}, indent=2))
    elif args.verb == "list":
        for r in routes:
            target = r["function"] + (f":{r['qualifier']}" if r["qualifier"] else "")
            mode = r["format"] + (" multi-value" if r["multiValueHeaders"] else "")
            print(f"{r['method']:7} {r['path']:30} {target:30} {mode}")
    return 0


def _allow(functions: Any, args: argparse.Namespace, function_arn: str, api_id: str) -> None:
    """Lets API Gateway invoke the function for this API's routes (once per function and API)."""
    from botocore.exceptions import ClientError

    account = function_arn.split(":")[4]
    try:
        functions.add_permission(
            FunctionName=function_arn,
            StatementId=f"lambkin-routes-{api_id}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{args.region}:{account}:{api_id}/*/*",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceConflictException":
            raise
