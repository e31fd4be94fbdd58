"""Logs across a cluster: each node keeps the streams its environments write; the CloudWatch Logs API on any
node reads them all, asking every other live node through its endpoint /_lambkin/cluster/logs.

The endpoint is node-only (api/node_only.py): POST a JSON query {"what": "groups" | "streams" | "events",
"group", "stream", "start", "end", "contains"}, answered with this node's own (never a peer's) as JSON. A
node that does not answer is left out of the reading (its streams come back with it), as a stream whose
node is gone is left out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lambkin.api.asgi import ASGIApp, Receive, Scope, Send, read_body, respond
from lambkin.api.node_only import endpoint
from lambkin.cluster.membership import Membership
from lambkin.cluster.peers import Peers, PeerUnreachable
from lambkin.logs.reader import EventQuery, LocalLogs
from lambkin.logs.store import LogEvent

PATH = endpoint("logs")
QUERY_LIMIT = 64 * 1024
PEER_TIMEOUT_S = 10.0

log = logging.getLogger("lambkin.cluster")
T = TypeVar("T")


class ClusterLogs:
    """The LogReader of a node in a cluster: its own logs and every other live node's, merged."""

    def __init__(self, local: LocalLogs, membership: Membership, peers: Peers) -> None:
        self.local = local
        self.membership = membership
        self.peers = peers

    async def groups(self) -> list[str]:
        found = set(await self.local.groups())
        for names in await self._ask({"what": "groups"}, lambda raw: [str(name) for name in raw]):
            found.update(names)
        return sorted(found)

    async def streams(self, group: str) -> list[tuple[str, float]]:
        found = list(await self.local.streams(group))
        for more in await self._ask({"what": "streams", "group": group}, _streams):
            found += more
        return sorted(found, key=lambda item: item[1])

    async def events(self, query: EventQuery) -> list[LogEvent]:
        found = list(await self.local.events(query))
        asked = {"what": "events", **_query_json(query)}
        for more in await self._ask(asked, _events):
            found += more
        found.sort(key=lambda event: (event.timestamp, event.ingestion_time))
        return found

    async def _ask(self, question: dict[str, Any], read: Callable[[Any], T]) -> list[T]:
        """Every other live node's answer to `question`, read by `read` (nodes that fail are left out)."""
        others = [node.name for node in self.membership.live() if node.name != self.membership.name]
        body = json.dumps(question).encode()

        async def one(node: str) -> T | None:
            try:
                response = await self.peers.request(
                    node, "POST", PATH, {"content-type": "application/json"}, body, PEER_TIMEOUT_S
                )
                answer = await response.read()
                if response.status != 200:
                    raise PeerUnreachable(node, f"answered {response.status}")
                return read(json.loads(answer))
            except (PeerUnreachable, ValueError, KeyError, TypeError) as exc:
                log.warning("logs of node %s left out: %s", node, exc)
                return None

        answers = await asyncio.gather(*(one(node) for node in others))
        return [answer for answer in answers if answer is not None]


def _query_json(query: EventQuery) -> dict[str, Any]:
    return {
        "group": query.group,
        "stream": query.stream,
        "start": query.start_ms,
        "end": query.end_ms,
        "contains": query.contains,
    }


def _streams(raw: Any) -> list[tuple[str, float]]:
    return [(str(name), float(mtime)) for name, mtime in raw]


def _events(raw: Any) -> list[LogEvent]:
    return [LogEvent(str(g), str(s), int(t), str(m), int(i), int(q)) for g, s, t, m, i, q in raw]


def logs_endpoint(local: LocalLogs) -> ASGIApp:
    """A node's side: its own groups, streams or events for a peer's query (wrap it in node_only)."""
    answers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
        "groups": lambda given: local.groups(),
        "streams": lambda given: local.streams(str(given["group"])),
        "events": lambda given: _own_events(local, given),
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST" or scope["path"] != PATH:
            await _answer(send, 404, {"message": "no such endpoint"})
            return
        try:
            given = json.loads(await read_body(receive, QUERY_LIMIT))
            answer = await answers[given["what"]](given)
        except (ValueError, KeyError, TypeError) as exc:
            await _answer(send, 400, {"message": f"malformed: {exc}"})
            return
        await _answer(send, 200, answer)

    return app


async def _own_events(local: LocalLogs, given: dict[str, Any]) -> list[list[Any]]:
    query = EventQuery(
        group=str(given["group"]),
        stream=None if given.get("stream") is None else str(given["stream"]),
        start_ms=int(given.get("start") or 0),
        end_ms=None if given.get("end") is None else int(given["end"]),
        contains=None if given.get("contains") is None else str(given["contains"]),
    )
    return [
        [e.group, e.stream, e.timestamp, e.message, e.ingestion_time, e.seq]
        for e in await local.events(query)
    ]


async def _answer(send: Send, status: int, answer: Any) -> None:
    await respond(send, status, json.dumps(answer).encode(), [(b"content-type", b"application/json")])
