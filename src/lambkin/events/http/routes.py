"""The HTTP gateway: routes (method + path, `{param}`, `{proxy+}`) to functions in API Gateway 1.0, 2.0 or ALB form.

Served at `/gateway/<path>` and on any Host `gateway.localhost` / `*.gateway.localhost` (`<path>` as is).
Routes live in a JSON file (`<data>/routes.json`, or $LAMBKIN_ROUTES) that `lambkin routes` edits; the
server re-reads it whenever its inode, size or mtime changes, so edits apply without a restart. Here: the
route table, its file and matching; api/http_gateway.py serves it.

    {"routes": [{"method": "GET", "path": "/items/{id}", "function": "fn", "qualifier": null,
                 "format": "1.0" | "2.0" | "alb", "multiValueHeaders": false}]}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

log = logging.getLogger("lambkin.gateway")

FORMATS = ("1.0", "2.0", "alb")


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
