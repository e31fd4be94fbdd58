"""Sends between nodes: a message lambkin itself sends (an async record to a destination or dead-letter
queue) to a queue another node owns goes there through the owner's endpoint /_lambkin/cluster/queues/send.

The endpoint is node-only (api/node_only.py); it answers 200 once the message is stored, 404 when the
queue does not exist, 400 when the queue refuses the message, 503 when this node does not own the queue
(changing hands: the sender's attempt waits and runs again).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from lambkin.api.asgi import ASGIApp, Receive, Scope, Send, read_body, respond
from lambkin.api.node_only import endpoint
from lambkin.cluster.peers import Peers, PeerUnreachable
from lambkin.queues.errors import QueueDoesNotExist, QueueElsewhere, QueueError, QueueUnavailable
from lambkin.queues.messages import AttributeValue
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService

PATH = endpoint("queues") + "/send"
LIMIT = 2 * 1024 * 1024  # a message is at most 256 KiB (1 MiB with its attributes, JSON-escaped)
Forward = Callable[[str, str, SendRequest, str], Awaitable[None]]


def forwarder(peers: Peers) -> Forward:
    """`forward(node, queue, request, sender)`: the message stored by `node`, which owns `queue`; a refusal
    is the queue's own error (QueueDoesNotExist, or QueueError with its message), anything else
    QueueUnavailable."""

    async def forward(node: str, queue: str, request: SendRequest, sender: str) -> None:
        body = {
            "queue": queue,
            "sender": sender,
            "body": request.body,
            "attributes": {name: value.to_json() for name, value in request.attributes.items()},
        }
        try:
            response = await peers.request(
                node, "POST", PATH, {"content-type": "application/json"}, json.dumps(body).encode(), 30.0
            )
            answer = await response.read()
        except PeerUnreachable as exc:
            raise QueueUnavailable(f"the node {node} that owns {queue} is unreachable") from exc
        if response.status == 200:
            return
        if response.status == 404:
            raise QueueDoesNotExist()
        if response.status == 400:
            raise QueueError(json.loads(answer).get("message", "refused"))
        raise QueueUnavailable(f"the node {node} answered {response.status} for {queue}")

    return forward


def send_endpoint(service: QueueService) -> ASGIApp:
    """The owner's side: stores the message a peer forwards (wrap it in node_only)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST" or scope["path"] != PATH:
            await _answer(send, 404, "no such endpoint")
            return
        try:
            given = json.loads(await read_body(receive, LIMIT))
            request = SendRequest(
                body=given["body"],
                attributes={k: AttributeValue.from_json(v) for k, v in given["attributes"].items()},
            )
            await service.send(given["queue"], request, given["sender"], relayed=True)
        except (QueueElsewhere, QueueUnavailable) as exc:
            await _answer(send, 503, str(exc))
        except QueueDoesNotExist as exc:
            await _answer(send, 404, exc.message)
        except QueueError as exc:
            await _answer(send, 400, exc.message)
        except (ValueError, KeyError, TypeError) as exc:
            await _answer(send, 400, f"malformed: {exc}")
        else:
            await _answer(send, 200, "stored")

    return app


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode()
    await respond(send, status, body, [(b"content-type", b"application/json")])
