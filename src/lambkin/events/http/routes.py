"""The HTTP gateway: routes (method + path, `{param}`, `{proxy+}`) to functions in API Gateway 1.0, 2.0 or ALB form.

Served at `/gateway/<path>` and on any Host `gateway.localhost` / `*.gateway.localhost` (`<path>` as is).
Routes live in a JSON file (`<data>/routes.json`, or $LAMBKIN_ROUTES) that `lambkin routes` edits; the
server re-reads it whenever its inode, size or mtime changes, so edits apply without a restart.

    {"routes": [{"method": "GET", "path": "/items/{id}", "function": "fn", "qualifier": null,
                 "format": "1.0" | "2.0" | "alb", "multiValueHeaders": false}]}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lambkin import ids
from lambkin.api.asgi import Receive, Scope, Send, header, read_body
from lambkin.api.function_urls import HttpInvoker, Invoked, Result, http_request, send_response, wire_path
from lambkin.config import Settings
from lambkin.events.http.alb import ALB_LIMIT, AlbContext, build_alb, map_alb
from lambkin.events.http.request import HttpRequest, HttpResponse, MalformedResponse
from lambkin.events.http.v1 import V1Context, build_v1, map_v1
from lambkin.events.http.v2 import V2Context, build_v2, map_v2

log = logging.getLogger("lambkin.gateway")

PREFIX = "/gateway"
FORMATS = ("1.0", "2.0", "alb")
API_LIMIT = 6_291_456
API_ID = "lambkin"


@dataclass(frozen=True)
class Route:
    """One route: `ANY` or a method, a path template, and the function and event format it leads to."""

    method: str
    path: str
    function: str
    qualifier: str | None = None
    format: str = "2.0"
    multi_value_headers: bool = False

    @property
    def key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "function": self.function,
            "qualifier": self.qualifier,
            "format": self.format,
            "multiValueHeaders": self.multi_value_headers,
        }


def parse_routes(data: Any) -> list[Route]:
    """Routes from the file's JSON; raises ValueError saying what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("routes"), list):
        raise ValueError('the routes file must be {"routes": [...]}')
    routes = []
    for item in data["routes"]:
        route = Route(
            method=str(item.get("method", "ANY")).upper(),
            path=str(item["path"]),
            function=str(item["function"]),
            qualifier=item.get("qualifier") or None,
            format=str(item.get("format", "2.0")),
            multi_value_headers=bool(item.get("multiValueHeaders", False)),
        )
        if route.format not in FORMATS:
            raise ValueError(f"route {route.key}: format must be one of {', '.join(FORMATS)}")
        if route.path != "$default" and not route.path.startswith("/"):
            raise ValueError(f"route {route.key}: a path starts with / (or is $default)")
        routes.append(route)
    return routes


def load_routes(path: Path) -> list[Route]:
    if not path.exists():
        return []
    return parse_routes(json.loads(path.read_text() or '{"routes": []}'))


def save_routes(path: Path, routes: Sequence[Route]) -> None:
    """Writes the file atomically (a new inode each time, which the server notices)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"routes": [r.to_json() for r in routes]}, indent=2) + "\n")
    os.replace(temporary, path)


def match(routes: Sequence[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route for a request, and its path parameters (decoded).

    More literal segments win, then routes without a greedy `{name+}`, then a method over ANY;
    `$default` catches what nothing else does.
    """
    best: tuple[tuple[int, int, int], Route, dict[str, str]] | None = None
    segments = [s for s in path.split("/") if s] if path != "/" else []
    for route in routes:
        if route.method not in ("ANY", method) or route.path == "$default":
            continue
        params = _match_template(route.path, segments)
        if params is None:
            continue
        template = [s for s in route.path.split("/") if s]
        score = (
            sum(1 for s in template if not s.startswith("{")),
            0 if template and template[-1].endswith("+}") else 1,
            0 if route.method == "ANY" else 1,
        )
        if best is None or score > best[0]:
            best = (score, route, params)
    if best is not None:
        return best[1], best[2]
    fallback = next((r for r in routes if r.path == "$default"), None)
    return None if fallback is None else (fallback, {})


def _match_template(template: str, segments: list[str]) -> dict[str, str] | None:
    parts = [s for s in template.split("/") if s]
    params: dict[str, str] = {}
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest or index != len(parts) - 1:
                return None
            params[part[1:-2]] = unquote("/".join(rest))
            return params
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = unquote(segments[index])
        elif part != segments[index]:
            return None
    return params if len(parts) == len(segments) else None


class RouteTable:
    """The routes file, re-read when it changes (checked on every request: one stat)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._routes: list[Route] = []

    def routes(self) -> list[Route]:
        try:
            info = os.stat(self.path)
            seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            self._seen, self._routes = None, []
            return self._routes
        if seen != self._seen:
            try:
                self._routes = load_routes(self.path)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s: %s; keeping the routes read before", self.path, exc)
            self._seen = seen
        return self._routes


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

    def __init__(self, settings: Settings, table: RouteTable, invoker: HttpInvoker) -> None:
        self.settings = settings
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
        account = self.settings.account_id
        event: dict[str, Any]
        if route.format == "2.0":
            context = V2Context(account, API_ID, host, host.split(".", 1)[0], route.key, "$default", params)
            event = build_v2(request, context)
        elif route.format == "1.0":
            event = build_v1(request, V1Context(account, API_ID, host, route.path, "$default", params))
        else:
            group = f"arn:aws:elasticloadbalancing:{self.settings.region}:{account}:targetgroup/{route.function}/{API_ID}"
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


def routes_file(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """$LAMBKIN_ROUTES, else `<data>/routes.json`."""
    env = os.environ if environ is None else environ
    return Path(env["LAMBKIN_ROUTES"]) if env.get("LAMBKIN_ROUTES") else data_dir / "routes.json"
