"""The answers of HTTP APIs when no function's response is given back: API Gateway's JSON bodies (404, 401
with its `www-authenticate` challenge, 403, 413, 429, 500, 503), and an ALB's HTML pages for lambkin's alb formats."""

from __future__ import annotations

import json

from lambkin.api.function_urls import Invoked, Result
from lambkin.events.http.apis import Integration
from lambkin.events.http.request import HttpResponse


def _json(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, (("content-type", "application/json"),), json.dumps({"message": message}).encode()
    )


NOT_FOUND = _json(404, "Not Found")
UNAUTHORIZED = _json(401, "Unauthorized")
FORBIDDEN = _json(403, "Forbidden")
INTERNAL = _json(500, "Internal Server Error")
UNAVAILABLE = _json(503, "Service Unavailable")
TOO_LARGE = _json(413, "Request Entity Too Large")
TOO_MANY = _json(429, "Too Many Requests")


def html(status: int, reason: str) -> HttpResponse:
    title = f"{status} {reason}"
    body = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return HttpResponse(status, (("content-type", "text/html"),), body.encode())


def _alb(integration: Integration) -> bool:
    return integration.payload_format.startswith("alb")


def failure(integration: Integration, invoked: Invoked) -> HttpResponse:
    """What an HTTP API (or, for lambkin's alb formats, an ALB) answers when the invoke failed: 503 for a
    timeout, else 500."""
    if _alb(integration):
        if invoked.result is Result.TIMEOUT:
            return html(504, "Gateway Time-out")
        if invoked.result is Result.THROTTLED:
            return html(503, "Service Temporarily Unavailable")
        return html(502, "Bad Gateway")
    return UNAVAILABLE if invoked.result is Result.TIMEOUT else INTERNAL


def unauthorized(description: str) -> HttpResponse:
    challenge = f'Bearer scope="" error="invalid_token" error_description="{description}"'
    return HttpResponse(401, (*UNAUTHORIZED.headers, ("www-authenticate", challenge)), UNAUTHORIZED.body)
