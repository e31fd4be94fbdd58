"""Upload sessions that span requests, on a cluster: a request for a session another node holds is relayed there.

An upload's bytes live in one node's staging file, and its id names that node (images/uploads.py). A
client behind a load balancer may send the session's next PATCH, its PUT or its status GET to any node:
that node sends the request, as received (the holder checks its credentials again), to the holder in one
hop, with the body streamed through, and answers with the holder's reply. If the holder is gone, the
session is gone with it: BLOB_UPLOAD_UNKNOWN, and the client starts the upload again.
"""

from __future__ import annotations

from lambkin.api.asgi import Send
from lambkin.api.registry_http import Headers, Request
from lambkin.cluster.peers import NODE, PeerClient
from lambkin.images.errors import BlobUploadUnknown
from lambkin.images.peer_blobs import NodeView

# What the holder must see of the client's request, and what the client must see of the holder's answer.
_FORWARDED = ("authorization", "content-type", "content-length", "content-range", "range")
_RETURNED = (
    "content-type",
    "content-length",
    "location",
    "range",
    "docker-upload-uuid",
    "docker-content-digest",
    "www-authenticate",
)
RELAYED_BY = NODE.encode()  # the peers' signed header: a relayed request is never relayed again


class UploadRelay:
    """Sends registry requests to the node that holds their upload session."""

    def __init__(self, nodes: NodeView, client: PeerClient) -> None:
        self.nodes = nodes
        self.client = client

    async def forward(self, node: str, request: Request, send: Send, upload_id: str) -> None:
        gone = BlobUploadUnknown(
            f"upload {upload_id} was held by node {node}, which is gone; start the upload again",
            {"uuid": upload_id},
        )
        if request.header(RELAYED_BY) is not None or node not in {n.name for n in self.nodes.live()}:
            raise gone
        headers = {name: value for name in _FORWARDED if (value := request.header(name.encode())) is not None}
        query = request.scope.get("query_string", b"").decode()
        path = request.path + (f"?{query}" if query else "")
        body = request.body() if request.has_body() else b""
        try:
            answer = await self.client.request(node, request.method, path, headers, body)
        except ConnectionError:
            raise  # the client went away
        except Exception as exc:
            raise gone from exc
        returned: Headers = [
            (name.encode(), value.encode())
            for name in _RETURNED
            if (value := answer.headers.get(name)) is not None
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": returned})
        async for chunk in answer.stream():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
