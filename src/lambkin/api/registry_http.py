"""HTTP plumbing shared by the registry's handlers: the request view and the spec's error rendering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lambkin.api.asgi import Receive, Scope, Send, header, respond
from lambkin.images.errors import RegistryError, Unauthorized

Headers = list[tuple[bytes, bytes]]
API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")
CHALLENGE = (b"www-authenticate", b'Basic realm="lambkin"')


@dataclass(frozen=True)
class Request:
    """What a registry handler needs from one HTTP request."""

    scope: Scope
    receive: Receive
    method: str
    path: str
    query: dict[str, str]

    def header(self, name: bytes) -> str | None:
        return header(self.scope, name)

    def content_length(self) -> int | None:
        value = self.header(b"content-length")
        return int(value) if value is not None and value.isdigit() else None

    def has_body(self) -> bool:
        length = self.content_length()
        return (length is not None and length > 0) or self.header(b"transfer-encoding") is not None

    async def body(self) -> AsyncIterator[bytes]:
        """The request body as it arrives; raises ConnectionError if the client goes away."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


async def send_json(send: Send, status: int, doc: Any, head: bool = False, link: str | None = None) -> None:
    body = json.dumps(doc).encode()
    headers: Headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if link is not None:
        headers.append((b"link", link.encode()))
    await respond(send, status, b"" if head else body, headers)


async def render_error(
    send: Send, exc: RegistryError, head: bool = False, extra: Headers | None = None
) -> None:
    """The spec's error body: `{"errors": [{"code", "message", "detail"}]}`."""
    body = json.dumps({"errors": [exc.to_json()]}).encode()
    headers: Headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if isinstance(exc, Unauthorized):
        headers.append(CHALLENGE)
    headers.extend(extra or ())
    await respond(send, exc.status, b"" if head else body, headers)


Handler = Callable[[Request, Send, dict[str, str]], Awaitable[None]]
