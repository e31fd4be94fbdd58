"""Route selection for HTTP APIs (method + path, `{param}`, `{proxy+}`, `$default`), and the routes file of
earlier lambkin versions, migrated at start into the HTTP API named `gateway`.

The file (`<data>/routes.json`, or $LAMBKIN_ROUTES) was edited by `lambkin routes` and read by the server:

    {"routes": [{"method": "GET", "path": "/items/{id}", "function": "fn", "qualifier": null,
                 "format": "1.0" | "2.0" | "alb", "multiValueHeaders": false}]}

Its routes become the routes of an API named `gateway` (a `$default` stage that auto-deploys), each with its
own integration, and the file is renamed `<name>.migrated`, so it is imported once.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote

from lambkin.events.http import api_store as db
from lambkin.events.http.apis import DEFAULT, Api, Deployment, Integration, Route, Stage, new_id
from lambkin.store import Connection, Store

log = logging.getLogger("lambkin.gateway")

FORMATS = ("1.0", "2.0", "alb")
GATEWAY_API = "gateway"  # the name of the API served at /gateway/ and *.gateway.localhost


class Routable(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...


T = TypeVar("T", bound=Routable)


def match(routes: Sequence[T], method: str, path: str) -> tuple[T, dict[str, str]] | None:
    """The most specific route for a request, and its path parameters (decoded).

    More literal segments win, then routes without a greedy `{name+}`, then a method over ANY;
    `$default` catches what nothing else does.
    """
    best: tuple[tuple[int, int, int], T, dict[str, str]] | None = None
    segments = [s for s in path.split("/") if s] if path != "/" else []
    for route in routes:
        if route.method not in ("ANY", method) or route.path == DEFAULT:
            continue
        template = _parts(route.path)
        params = _match_template(template, segments)
        if params is None:
            continue
        score = (
            sum(1 for s in template if not s.startswith("{")),
            0 if template and template[-1].endswith("+}") else 1,
            0 if route.method == "ANY" else 1,
        )
        if best is None or score > best[0]:
            best = (score, route, params)
    if best is not None:
        return best[1], best[2]
    fallback = next((r for r in routes if r.path == DEFAULT), None)
    return None if fallback is None else (fallback, {})


@functools.lru_cache(maxsize=4096)
def _parts(template: str) -> tuple[str, ...]:
    """A route path's segments (remembered: every request matches against the same few templates)."""
    return tuple(s for s in template.split("/") if s)


def _match_template(parts: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
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


@dataclass(frozen=True)
class FileRoute:
    """One route of the earlier versions' routes file."""

    method: str
    path: str
    function: str
    qualifier: str | None = None
    format: str = "2.0"
    multi_value_headers: bool = False


def parse_routes(data: Any) -> list[FileRoute]:
    """Routes from the file's JSON; raises ValueError saying what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("routes"), list):
        raise ValueError('the routes file must be {"routes": [...]}')
    routes = []
    for item in data["routes"]:
        route = FileRoute(
            method=str(item.get("method", "ANY")).upper(),
            path=str(item["path"]),
            function=str(item["function"]),
            qualifier=item.get("qualifier") or None,
            format=str(item.get("format", "2.0")),
            multi_value_headers=bool(item.get("multiValueHeaders", False)),
        )
        if route.format not in FORMATS:
            raise ValueError(f"route {route.method} {route.path}: format must be one of {', '.join(FORMATS)}")
        if route.path != DEFAULT and not route.path.startswith("/"):
            raise ValueError(f"route {route.method} {route.path}: a path starts with / (or is $default)")
        routes.append(route)
    return routes


def migrate_routes_file(store: Store, path: Path) -> str | None:
    """Imports the routes file at `path`, if there is one, as the API named `gateway`; its id, or None."""
    if not path.exists():
        return None
    try:
        routes = parse_routes(json.loads(path.read_text() or '{"routes": []}'))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s: %s; not migrated (fix it and restart)", path, exc)
        return None
    now = time.time()
    api = Api(new_id(), GATEWAY_API, now, description=f"migrated from {path}")

    def write(conn: Connection) -> None:
        db.write_api(conn, api)
        keys = [DEFAULT if r.path == DEFAULT else f"{r.method} {r.path}" for r in routes]
        for key, route in zip(keys, routes, strict=True):
            payload = "alb-multi-value" if route.multi_value_headers else route.format
            uri = route.function + (f":{route.qualifier}" if route.qualifier else "")
            integration = Integration(new_id()[:7], "AWS_PROXY", uri, payload)
            db.write_part(conn, api.api_id, integration)
            db.write_part(
                conn, api.api_id, Route(new_id()[:7], key, f"integrations/{integration.integration_id}")
            )
        snapshot = Deployment(
            new_id()[:6],
            now,
            tuple(r.to_json() for r in db.list_parts(conn, Route, api.api_id)),
            tuple(i.to_json() for i in db.list_parts(conn, Integration, api.api_id)),
            "migrated from the routes file",
            True,
        )
        db.write_part(conn, api.api_id, snapshot)
        db.write_part(conn, api.api_id, Stage(DEFAULT, now, now, True, snapshot.deployment_id))

    store.run_sync(write)
    path.rename(path.with_name(path.name + ".migrated"))
    log.warning("%s: its %d routes are now the HTTP API %s (named gateway)", path, len(routes), api.api_id)
    for function in sorted({r.function for r in routes}):
        log.warning(
            "API Gateway invokes a function only where its policy lets it; for %s: aws lambda add-permission"
            " --function-name %s --statement-id lambkin-routes-%s --action lambda:InvokeFunction"
            " --principal apigateway.amazonaws.com --source-arn 'arn:aws:execute-api:REGION:ACCOUNT:%s/*/*'",
            function,
            function,
            api.api_id,
            api.api_id,
        )
    return api.api_id
