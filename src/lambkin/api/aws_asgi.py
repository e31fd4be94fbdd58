"""The AWS APIs as an ASGI app: an ASGI request handed to the gateway's engine, its reply sent back."""

from __future__ import annotations

from lambkin.api.asgi import Receive, Scope, Send, read_body, respond
from lambkin.protocol.gateway import ApiRequest, AwsGateway, api_request


class AwsAsgi:
    """Serves `gateway` over ASGI (what uvicorn's own protocol calls; the front door calls the gateway itself)."""

    def __init__(self, gateway: AwsGateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routed = self.gateway.route(_request(scope))
        body: bytes | None
        try:
            body = await read_body(receive, routed.body_limit)
        except ValueError:
            body = None
        except ConnectionError:
            return  # the client went away before sending its whole body; nobody to answer
        reply = await self.gateway.answer(routed, body)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        if reply.stream is None:
            await respond(send, reply.status, reply.body, headers)
            return
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        async for chunk in reply.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _request(scope: Scope) -> ApiRequest:
    headers: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = bytes(key).decode("latin-1").lower()
        text = bytes(value).decode("latin-1")
        headers[name] = f"{headers[name]},{text}" if name in headers else text
    raw = scope.get("raw_path") or scope.get("path", "/").encode()
    query_string = bytes(scope.get("query_string", b"")).decode("latin-1")
    client = scope.get("client") or ("", 0)
    target = bytes(raw).decode("latin-1").split("?", 1)[0] + (f"?{query_string}" if query_string else "")
    return api_request(scope.get("method", "GET"), target, headers, str(client[0]))
