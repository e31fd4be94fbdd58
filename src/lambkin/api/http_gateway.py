"""The HTTP gateway's ASGI app: a request matched in the route table, as an API Gateway 1.0, 2.0 or ALB event.

Served at `/gateway/<path>` and on any Host `gateway.localhost` / `*.gateway.localhost` (`<path>` as is);
the routes are `events/http/routes.py`'s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from lambkin import ids
from lambkin.api.asgi import Receive, Scope, Send, header, read_body
from lambkin.api.function_urls import HttpInvoker, Invoked, Result, http_request, send_response, wire_path
from lambkin.events.http.alb import ALB_LIMIT, AlbContext, build_alb, map_alb
from lambkin.events.http.request import HttpRequest, HttpResponse, MalformedResponse
from lambkin.events.http.routes import Route, RouteTable, match
from lambkin.events.http.v1 import V1Context, build_v1, map_v1
from lambkin.events.http.v2 import V2Context, build_v2, map_v2

log = logging.getLogger("lambkin.gateway")

PREFIX = "/gateway"
API_LIMIT = 6_291_456
API_ID = "lambkin"


def _json(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, (("content-type", "application/json"),), json.dumps({"message": message}).encode()
    )


def _html(status: int, reason: str) -> HttpResponse:
    title = f"{status} {reason}"
    body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return HttpResponse(status, (("content-type", "text/html"),), body.encode())


def failure(route: Route, invoked: Invoked) -> HttpResponse:
    """What API Gateway (1.0: REST wording; 2.0: HTTP API wording) or an ALB answers when the invoke failed."""
    if route.format == "alb":
        if invoked.result is Result.TIMEOUT:
            return _html(504, "Gateway Time-out")
        if invoked.result is Result.THROTTLED:
            return _html(503, "Service Temporarily Unavailable")
        return _html(502, "Bad Gateway")
    if invoked.result is Result.TIMEOUT:
        return _json(504, "Endpoint request timed out")
    if invoked.result is Result.THROTTLED:
        return _json(500, "Internal server error" if route.format == "1.0" else "Internal Server Error")
    return _json(502, "Internal server error" if route.format == "1.0" else "Internal Server Error")


def too_large(route: Route) -> HttpResponse:
    return (
        _html(413, "Request Entity Too Large")
        if route.format == "alb"
        else _json(413, "Request Entity Too Large")
    )


class HttpGateway:
    """The ASGI app serving the route table."""

    def __init__(self, region: str, account_id: str, table: RouteTable, invoker: HttpInvoker) -> None:
        self.region = region
        self.account_id = account_id
        self.table = table
        self.invoker = invoker

    def matches(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return True
        host = (header(scope, b"host") or "").split(":", 1)[0].lower()
        return host == "gateway.localhost" or host.endswith(".gateway.localhost")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ids.uuid4()
        path = wire_path(scope)
        host = (header(scope, b"host") or "").split(":", 1)[0].lower()
        if not (host == "gateway.localhost" or host.endswith(".gateway.localhost")):
            path = path[len(PREFIX) :] or "/"
        method = str(scope.get("method", "GET")).upper()
        found = match(self.table.routes(), method, path)
        if found is None:
            await send_response(send, _json(404, "Not Found"), request_id)
            return
        route, params = found
        limit = ALB_LIMIT if route.format == "alb" else API_LIMIT
        try:
            body = await read_body(receive, limit)
        except ValueError:
            await send_response(send, too_large(route), request_id)
            return
        except ConnectionError:
            return
        request = http_request(scope, path, body, request_id)
        response = await self._serve(route, params, request, host or "localhost")
        await send_response(send, response, request_id)

    async def _serve(
        self, route: Route, params: Mapping[str, str], request: HttpRequest, host: str
    ) -> HttpResponse:
        account = self.account_id
        event: dict[str, Any]
        if route.format == "2.0":
            context = V2Context(account, API_ID, host, host.split(".", 1)[0], route.key, "$default", params)
            event = build_v2(request, context)
        elif route.format == "1.0":
            event = build_v1(request, V1Context(account, API_ID, host, route.path, "$default", params))
        else:
            group = (
                f"arn:aws:elasticloadbalancing:{self.region}:{account}:targetgroup/{route.function}/{API_ID}"
            )
            event = build_alb(request, AlbContext(group, route.multi_value_headers))
        payload = json.dumps(event, separators=(",", ":")).encode()
        if len(payload) > API_LIMIT:
            return too_large(route)
        invoked = await self.invoker.invoke(route.function, route.qualifier, payload, request.request_id)
        if invoked.result is not Result.OK:
            return failure(route, invoked)
        try:
            if route.format == "2.0":
                return map_v2(invoked.payload)
            if route.format == "1.0":
                return map_v1(invoked.payload)
            return map_alb(invoked.payload, route.multi_value_headers)
        except MalformedResponse as exc:
            log.info("route %s: malformed response: %s", route.key, exc)
            return failure(route, Invoked(Result.FUNCTION_ERROR))
