"""CORS as function URLs apply it: preflights answered for the function, and headers added to responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambkin.events.http.request import HttpResponse


def _allowed_origin(cors: Mapping[str, Any], origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when the config does not allow it."""
    if not origin:
        return None
    origins = [str(o) for o in cors.get("AllowOrigins") or []]
    if "*" in origins:
        return "*" if not cors.get("AllowCredentials") else origin
    lowered = origin.lower()
    return origin if any(o.lower() == lowered for o in origins) else None


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight(cors: Mapping[str, Any], headers: Mapping[str, str]) -> HttpResponse:
    """The answer to an OPTIONS preflight (headers lower-case): 200, with CORS headers if the origin may."""
    allowed = _allowed_origin(cors, headers.get("origin"))
    pairs: list[tuple[str, str]] = [("vary", "Origin")]
    if allowed is not None:
        pairs.append(("access-control-allow-origin", allowed))
        methods = cors.get("AllowMethods") or []
        if methods:
            pairs.append(("access-control-allow-methods", ",".join(methods)))
        allow_headers = cors.get("AllowHeaders") or []
        if allow_headers:
            pairs.append(("access-control-allow-headers", ",".join(allow_headers)))
        if cors.get("AllowCredentials"):
            pairs.append(("access-control-allow-credentials", "true"))
        if cors.get("MaxAge") is not None:
            pairs.append(("access-control-max-age", str(cors["MaxAge"])))
    return HttpResponse(200, tuple(pairs), b"")


def with_cors(response: HttpResponse, cors: Mapping[str, Any], origin: str | None) -> HttpResponse:
    """The function's response with the URL's CORS headers in place of any the function set."""
    pairs = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    allowed = _allowed_origin(cors, origin)
    if allowed is not None:
        pairs.append(("access-control-allow-origin", allowed))
        expose = cors.get("ExposeHeaders") or []
        if expose:
            pairs.append(("access-control-expose-headers", ",".join(expose)))
        if cors.get("AllowCredentials"):
            pairs.append(("access-control-allow-credentials", "true"))
    if origin:
        pairs.append(("vary", "Origin"))
    return HttpResponse(response.status, tuple(pairs), response.body)
