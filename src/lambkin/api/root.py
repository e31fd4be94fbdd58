"""The one ASGI app on lambkin's port: sends each request to the surface it belongs to."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from lambkin.api.asgi import ASGIApp, Message, Receive, Scope, Send, respond
from lambkin.metrics.recorder import Recorder

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


def always_ready() -> str:
    return "ready"


class RootApp:
    """Tries each mount in order; the first whose matcher accepts the request serves it. /health answers 200
    while `state()` (the node's membership state) is "ready", else 503 with the state: a load balancer sends
    requests only to a node that is neither starting nor draining. With `metrics`, each request a mount
    answers is counted by the mount's name and the status it answered."""

    def __init__(
        self, mounts: list[Mount], state: Callable[[], str] = always_ready, metrics: Recorder | None = None
    ) -> None:
        self.mounts = mounts
        self.state = state
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("path") == "/health":
            await self._health(send)
            return
        mount = self.mount_for(scope)
        if mount is not None and self.metrics is not None:
            await self._counted(mount, self.metrics, scope, receive, send)
            return
        if mount is not None:
            await mount.app(scope, receive, send)
            return
        body = json.dumps({"message": f"No route for {scope.get('method')} {scope.get('path')}"}).encode()
        await respond(send, 404, body, [(b"content-type", b"application/json")])

    async def _counted(
        self, mount: Mount, metrics: Recorder, scope: Scope, receive: Receive, send: Send
    ) -> None:
        status = 0  # 0: no answer started (the client went away, or the app failed)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await mount.app(scope, receive, sending)
        finally:
            metrics.request(mount.name, status)

    async def _health(self, send: Send) -> None:
        state = self.state()
        status, body = (
            (200, b'{"status":"ok"}') if state == "ready" else (503, json.dumps({"status": state}).encode())
        )
        await respond(send, status, body, [(b"content-type", b"application/json")])

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
