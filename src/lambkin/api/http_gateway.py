"""The HTTP APIs' data plane: a request to an API's URL → stage → route → its function, as API Gateway v2
serves it (payload 1.0 or 2.0, CORS, the function's permission for apigateway.amazonaws.com, HTTP APIs'
error bodies); lambkin's "alb" payload formats (routes of earlier versions) in ALB's form.

Served at `/execute-api/<api-id>/...` and on Host `<api-id>.execute-api.<region>.*` (api/http_urls.py), and
the API named `gateway` at `/gateway/...` and on Host `gateway.localhost` / `*.gateway.localhost`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambkin import ids
from lambkin.api.asgi import Receive, Scope, Send, header, read_body
from lambkin.api.authorize import Decider
from lambkin.api.function_urls import HttpInvoker, Invoked, Result, http_request, send_response, wire_path
from lambkin.api.http_api_errors import (
    FORBIDDEN,
    INTERNAL,
    NOT_FOUND,
    TOO_LARGE,
    TOO_MANY,
    UNAUTHORIZED,
    failure,
    html,
    unauthorized,
)
from lambkin.api.http_urls import API_HOST, API_PREFIX
from lambkin.events.http import cors, jwt_authorizer, lambda_authorizer, throttle
from lambkin.events.http.alb import ALB_LIMIT, AlbContext, build_alb, map_alb
from lambkin.events.http.api_live import Live, Served
from lambkin.events.http.api_service import HttpApis
from lambkin.events.http.apis import DEFAULT, Authorizer, Integration, Route, function_of
from lambkin.events.http.request import HttpRequest, HttpResponse, MalformedResponse
from lambkin.events.http.routes import GATEWAY_API, match
from lambkin.events.http.v1 import V1Context, build_v1, map_v1
from lambkin.events.http.v2 import V2Context, build_v2, map_v2
from lambkin.functions.policies import FunctionPolicies
from lambkin.identity.principals import service

log = logging.getLogger("lambkin.gateway")

PREFIX = "/gateway"
REQUEST_LIMIT = 10 * 1024 * 1024  # an HTTP API's payload quota
INVOKE_LIMIT = 6_291_456  # the event the function gets
APIGATEWAY = service("apigateway.amazonaws.com")


AUTHORIZER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Addressed:
    """Which API a request is for, the path after it, and the domain name it came by."""

    api_id: str | None  # None: the API named `gateway`
    path: str
    domain: str


class HttpGateway:
    """The ASGI app serving every HTTP API's deployed stages; a function is invoked only where its policy
    lets apigateway.amazonaws.com (`decider`, the function's policy from `policies`)."""

    def __init__(
        self,
        region: str,
        account_id: str,
        apis: HttpApis,
        invoker: HttpInvoker,
        decider: Decider,
        policies: FunctionPolicies,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.apis = apis
        self.invoker = invoker
        self.decider = decider
        self.policies = policies
        self.verdicts = lambda_authorizer.Verdicts()
        self.issuer_keys = jwt_authorizer.IssuerKeys()
        self.buckets = throttle.Buckets()

    def matches(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        if path.startswith(API_PREFIX) or path == PREFIX or path.startswith(PREFIX + "/"):
            return True
        host = (header(scope, b"host") or "").split(":", 1)[0].lower()
        return _legacy_host(host) or API_HOST.match(host + ".") is not None

    def _address(self, scope: Scope) -> Addressed:
        path = wire_path(scope)
        host = (header(scope, b"host") or "").split(":", 1)[0].lower()
        found = API_HOST.match(host + ".")
        if found is not None:
            return Addressed(found.group(1), path, host)
        if _legacy_host(host):
            return Addressed(None, path, host)
        if path.startswith(API_PREFIX):
            api_id, _, rest = path[len(API_PREFIX) :].partition("/")
            return Addressed(api_id, "/" + rest, f"{api_id}.execute-api.{self.region}.localhost")
        return Addressed(None, path[len(PREFIX) :] or "/", host or "localhost")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ids.uuid4()
        addressed = self._address(scope)
        api_id = addressed.api_id or await self.apis.named(GATEWAY_API)
        live = None if api_id is None else await self.apis.live(api_id)
        if live is None or (addressed.api_id is not None and live.api.disable_execute_api_endpoint):
            await _send(send, NOT_FOUND, request_id)
            return
        try:
            body = await read_body(receive, REQUEST_LIMIT)
        except ValueError:
            await _send(send, TOO_LARGE, request_id)
            return
        except ConnectionError:
            return
        served, path = _stage(live, addressed.path)
        request = http_request(scope, path if served is not None else addressed.path, body, request_id)
        response = NOT_FOUND if served is None else await self._serve(live, served, request, addressed.domain)
        await _send(send, response, request_id)

    async def _serve(self, live: Live, served: Served, request: HttpRequest, domain: str) -> HttpResponse:
        headers = {k.lower(): v for k, v in request.headers}
        api_cors = live.api.cors
        if api_cors is not None and cors.is_preflight(request.method, headers):
            return cors.preflight(api_cors, headers)
        found = match(served.routes, request.method, request.raw_path)
        integration = None
        if found is not None and found[0].integration_id is not None:
            integration = served.integrations.get(found[0].integration_id)
        if found is None or integration is None:
            return NOT_FOUND
        route, params = found
        if not self._admitted(live, served, route):
            return TOO_MANY if api_cors is None else cors.with_cors(TOO_MANY, api_cors, headers.get("origin"))
        authorized: Mapping[str, Any] | None = None
        if route.authorization_type == "JWT":
            checked = await self._jwt(served, route, headers, request)
            if isinstance(checked, HttpResponse):
                return (
                    checked if api_cors is None else cors.with_cors(checked, api_cors, headers.get("origin"))
                )
            authorized = checked
        elif route.authorization_type == "CUSTOM":
            authorizer = served.authorizers.get(route.authorizer_id or "")
            decided = (
                INTERNAL
                if authorizer is None
                else await self._authorize(live, served, route, params, request, domain, authorizer)
            )
            if isinstance(decided, HttpResponse):
                return (
                    decided if api_cors is None else cors.with_cors(decided, api_cors, headers.get("origin"))
                )
            authorized = decided
        response = await self._integrate(
            live, served, route, params, integration, request, domain, authorized
        )
        if api_cors is not None:
            response = cors.with_cors(response, api_cors, headers.get("origin"))
        return response

    def _admitted(self, live: Live, served: Served, route: Route) -> bool:
        """Whether the stage's throttle for the route (its RouteSettings entry, else the stage's
        DefaultRouteSettings) lets one more request through; True where none is set."""
        stage = served.stage
        limit = throttle.limit_of(stage.default_route_settings, stage.route_settings, route.route_key)
        if limit is None:
            return True
        return self.buckets.take((live.api.api_id, stage.name, route.route_key), limit)

    async def _integrate(
        self,
        live: Live,
        served: Served,
        route: Route,
        params: Mapping[str, str],
        integration: Integration,
        request: HttpRequest,
        domain: str,
        authorized: Mapping[str, Any] | None = None,
    ) -> HttpResponse:
        api_id, stage = live.api.api_id, served.stage
        function, qualifier = integration.function()
        if not self._permitted(self._source_arn(api_id, stage.name, request), function, qualifier):
            log.info("API %s: apigateway.amazonaws.com may not invoke %s", api_id, function)
            return INTERNAL
        event: dict[str, Any]
        if integration.payload_format in ("1.0", "2.0"):
            event = self._event(
                integration.payload_format, live, served, route, params, request, domain, authorized
            )
        else:
            multi = integration.payload_format == "alb-multi-value"
            if len(request.body) > ALB_LIMIT:
                return html(413, "Request Entity Too Large")
            group = f"arn:aws:elasticloadbalancing:{self.region}:{self.account_id}:targetgroup/{function}/{api_id}"
            event = build_alb(request, AlbContext(group, multi))
        payload = json.dumps(event, separators=(",", ":")).encode()
        if len(payload) > INVOKE_LIMIT:
            return TOO_LARGE
        invoked = await self._invoke(function, qualifier, payload, request, integration.timeout_ms / 1000)
        if invoked.result is not Result.OK:
            return failure(integration, invoked)
        try:
            if integration.payload_format == "2.0":
                return map_v2(invoked.payload)
            if integration.payload_format == "1.0":
                return map_v1(invoked.payload)
            return map_alb(invoked.payload, integration.payload_format == "alb-multi-value")
        except MalformedResponse as exc:
            log.info("API %s route %s: malformed response: %s", api_id, route.route_key, exc)
            return failure(integration, Invoked(Result.FUNCTION_ERROR))

    async def _invoke(
        self, function: str, qualifier: str | None, payload: bytes, request: HttpRequest, timeout_s: float
    ) -> Invoked:
        """The function's result, or TIMEOUT once the integration's time is up."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self.invoker.invoke(function, qualifier, payload, request.request_id)
        except TimeoutError:
            return Invoked(Result.TIMEOUT)

    def _event(
        self,
        payload_format: str,
        live: Live,
        served: Served,
        route: Route,
        params: Mapping[str, str],
        request: HttpRequest,
        domain: str,
        authorized: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The request as a payload 2.0 or 1.0 event (with an authorizer's context)."""
        api_id, stage = live.api.api_id, served.stage
        variables = stage.variables or None
        if payload_format == "2.0":
            context = V2Context(
                self.account_id, api_id, domain, domain.split(".", 1)[0], route.route_key, stage.name, params,
                authorizer=None if authorized is None else (
                    dict(authorized) if "jwt" in authorized else {"lambda": dict(authorized)}
                ),
                stage_variables=variables,
            )  # fmt: skip
            return build_v2(request, context)
        resource = "/" if route.route_key == DEFAULT else route.path
        v1 = V1Context(
            self.account_id, api_id, domain, resource, stage.name, params, stage_variables=variables
        )
        return {"version": "1.0", **build_v1(request, v1)}  # an HTTP API's 1.0 event says its version

    async def _authorize(
        self,
        live: Live,
        served: Served,
        route: Route,
        params: Mapping[str, str],
        request: HttpRequest,
        domain: str,
        authorizer: Authorizer,
    ) -> HttpResponse | Mapping[str, Any]:
        """The Lambda authorizer's answer: its context when it allows the request, else the response (401
        without identity, 403 denied, 500 when it could not decide); answers are kept for its TTL."""
        api_id, stage = live.api.api_id, served.stage
        headers = {k.lower(): v for k, v in request.headers}
        context = {"routeKey": route.route_key, "stage": stage.name, "httpMethod": request.method}
        values = lambda_authorizer.identity(
            authorizer.identity_source, headers, request.query_string, context, stage.variables
        )
        if values is None:
            return UNAUTHORIZED
        route_arn = self._source_arn(api_id, stage.name, request)
        now = time.monotonic()
        verdict = self.verdicts.get(api_id, authorizer, values, now)
        if verdict is None:
            function, qualifier = function_of(authorizer.uri or "")
            own = f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}/authorizers/{authorizer.authorizer_id}"
            if not self._permitted(own, function, qualifier):
                log.info("API %s: apigateway.amazonaws.com may not invoke authorizer %s", api_id, function)
                return INTERNAL
            shaped = self._event(
                authorizer.payload_format, live, served, route, params, request, domain, None
            )
            payload = lambda_authorizer.event(authorizer, route_arn, values, shaped)
            invoked = await self._invoke(function, qualifier, payload, request, AUTHORIZER_TIMEOUT_S)
            if invoked.result is not Result.OK:
                return INTERNAL
            try:
                verdict = lambda_authorizer.verdict(authorizer, invoked.payload, route_arn)
            except MalformedResponse as exc:
                log.info("API %s authorizer %s: %s", api_id, authorizer.authorizer_id, exc)
                return INTERNAL
            self.verdicts.put(api_id, authorizer, values, verdict, now)
        return verdict.context if verdict.allowed else FORBIDDEN

    async def _jwt(
        self, served: Served, route: Route, headers: Mapping[str, str], request: HttpRequest
    ) -> HttpResponse | Mapping[str, Any]:
        """The JWT authorizer's check: `{"jwt": {"claims", "scopes"}}` for the event, else 401 (with
        `www-authenticate`) or 403 (the route's scopes missing)."""
        authorizer = served.authorizers.get(route.authorizer_id or "")
        if authorizer is None or authorizer.jwt is None:
            return INTERNAL
        values = lambda_authorizer.identity(
            authorizer.identity_source, headers, request.query_string, {}, served.stage.variables
        )
        if values is None:
            return unauthorized("the token is missing")
        issuer, audiences = str(authorizer.jwt["Issuer"]), list(authorizer.jwt["Audience"])
        try:
            checked = await jwt_authorizer.check(
                jwt_authorizer.bearer(values[0]),
                issuer,
                audiences,
                route.authorization_scopes,
                self.issuer_keys,
            )
        except jwt_authorizer.Rejected as rejected:
            return FORBIDDEN if rejected.status == 403 else unauthorized(rejected.description)
        scopes = None if checked.scopes is None else list(checked.scopes)
        return {"jwt": {"claims": dict(checked.claims), "scopes": scopes}}

    def _source_arn(self, api_id: str, stage: str, request: HttpRequest) -> str:
        """The execute-api ARN of a request: API, stage, method and path."""
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}/{stage}/{request.method}{request.raw_path}"

    def _permitted(self, source: str, function: str, qualifier: str | None) -> bool:
        """Whether the function's policy lets API Gateway invoke it: lambda:InvokeFunction by
        apigateway.amazonaws.com, with `aws:SourceArn` the request's execute-api ARN (an authorizer's own)."""
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function}" + (
            f":{qualifier}" if qualifier else ""
        )
        keys = (("aws:SourceArn", source), ("aws:SourceAccount", self.account_id))
        policy = self.policies.text(function, qualifier)
        return self.decider.refusal(APIGATEWAY, "lambda:InvokeFunction", arn, policy, keys) is None


def _legacy_host(host: str) -> bool:
    return host == "gateway.localhost" or host.endswith(".gateway.localhost")


def _stage(live: Live, path: str) -> tuple[Served | None, str]:
    """The stage a request's path names (its first segment), else `$default`; and the path within it."""
    first, _, rest = path.lstrip("/").partition("/")
    named = live.stages.get(first) if first and first != DEFAULT else None
    if named is not None:
        return named, "/" + rest
    return live.stages.get(DEFAULT), path


async def _send(send: Send, response: HttpResponse, request_id: str) -> None:
    headers = (*response.headers, ("apigw-requestid", request_id))
    await send_response(send, HttpResponse(response.status, headers, response.body), request_id)
