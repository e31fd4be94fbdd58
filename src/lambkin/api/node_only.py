"""The nodes' own HTTP endpoints under /_lambkin/cluster/: served only to a request another node signed."""

from __future__ import annotations

import json

from lambkin.api.asgi import ASGIApp, Receive, Scope, Send, respond
from lambkin.cluster.peers import PREFIX, Peers

NODE_KEY = "lambkin.node"  # the scope key that names the node that sent the request


def node_only(peers: Peers | None, app: ASGIApp) -> ASGIApp:
    """`app`, for requests signed by a node of this cluster (their sender in scope[NODE_KEY]); anyone
    else (a client, with whatever key; any request to a server alone) gets 403."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1") for k, v in scope["headers"]
        }
        node = None if peers is None else peers.verify(scope["method"], scope["path"], headers)
        if node is None:
            body = json.dumps({"message": "Only a node of this cluster may call this."}).encode()
            await respond(send, 403, body, [(b"content-type", b"application/json")])
            return
        await app({**scope, NODE_KEY: node}, receive, send)

    return guarded


def endpoint(name: str) -> str:
    """The path prefix of one of the nodes' endpoints (`endpoint("blobs")` is /_lambkin/cluster/blobs)."""
    return f"{PREFIX}/{name}"
