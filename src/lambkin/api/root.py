"""The one ASGI app on lambkin's port: sends each request to the surface it belongs to."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from lambkin.api.asgi import ASGIApp, Receive, Scope, Send, respond

Matcher = Callable[[Scope], bool]


def path_prefix(prefix: str) -> Matcher:
    def match(scope: Scope) -> bool:
        path: str = scope.get("path", "")
        return path == prefix or path.startswith(prefix + "/")

    return match


def always(scope: Scope) -> bool:
    return True


@dataclass(frozen=True)
class Mount:
    name: str
    match: Matcher
    app: ASGIApp


class RootApp:
    """Tries each mount in order; the first whose matcher accepts the request serves it."""

    def __init__(self, mounts: list[Mount]) -> None:
        self.mounts = mounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("path") == "/health":
            await respond(send, 200, b'{"status":"ok"}', [(b"content-type", b"application/json")])
            return
        mount = self.mount_for(scope)
        if mount is not None:
            await mount.app(scope, receive, send)
            return
        body = json.dumps({"message": f"No route for {scope.get('method')} {scope.get('path')}"}).encode()
        await respond(send, 404, body, [(b"content-type", b"application/json")])

    def mount_for(self, scope: Scope) -> Mount | None:
        """The mount that serves an HTTP request (None for /health and for no mount at all)."""
        if scope.get("path") == "/health":
            return None
        return next((mount for mount in self.mounts if mount.match(scope)), None)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
