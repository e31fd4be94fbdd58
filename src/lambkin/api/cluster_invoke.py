"""The internal invoke endpoint of a cluster node (POST /_lambkin/cluster/invoke): a peer's placed invoke
runs here, never placed again. Only nodes may call it (it is mounted inside `api/node_only.py`); the wire
form is invoke/forward.py's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from lambkin.api.asgi import Receive, Scope, Send, read_body, respond
from lambkin.environments.pool import Pools
from lambkin.invoke import forward
from lambkin.invoke.invoker import Invoker
from lambkin.invoke.targets import Resolve

log = logging.getLogger("lambkin.api.cluster_invoke")

# An event is at most 6 MB (Lambda's synchronous payload limit), the hop adds nothing to the body.
BODY_LIMIT = 6 * 1024 * 1024 + 1024


class ClusterInvoke:
    """The ASGI app of the endpoint."""

    def __init__(
        self, resolve: Resolve, invoker: Invoker, pools: Pools, draining: Callable[[], bool] = lambda: False
    ) -> None:
        self.resolve = resolve
        self.invoker = invoker
        self.pools = pools
        self.draining = draining  # a draining node takes no new placed invoke: it answers full

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope.get("method", ""), scope.get("path", "")
        headers = {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1") for k, v in scope["headers"]
        }
        if method != "POST" or path != forward.PATH:
            await _json(send, 404, b'{"message":"No such cluster endpoint."}')
            return
        try:
            body = await read_body(receive, BODY_LIMIT)
            name, version, request = forward.decode_request(headers, body)
        except (ValueError, KeyError) as exc:
            await _json(send, 400, f'{{"message":"Not a placed invoke: {exc}"}}'.encode())
            return
        except ConnectionError:
            return
        try:
            target = await self.resolve(name, version)
            if self.draining() or self.pools.full(target.version):
                await respond(send, 503, b"", [(forward.FULL.encode(), b"1")])
                return
            result = await self.invoker.run_here(target.version, request)
        except Exception as exc:
            if not (hasattr(exc, "code") and hasattr(exc, "message")):
                log.exception("placed invoke %s of %s failed", request.request_id, name)
            status, error = forward.encode_error(exc)
            await respond(
                send, status, error, [(forward.ERROR.encode(), b"1"), (b"content-type", b"application/json")]
            )
            return
        reply_headers, reply = forward.encode_result(result)
        await respond(send, 200, reply, [(k.encode(), v.encode("latin-1")) for k, v in reply_headers])


async def _json(send: Send, status: int, body: bytes) -> None:
    await respond(send, status, body, [(b"content-type", b"application/json")])
