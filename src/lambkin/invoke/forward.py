"""The Invoker's placement over a cluster: which node runs an invoke (invoke/placement.py decides), the one
HTTP hop to a peer's internal invoke endpoint, and what this node publishes of its idle environments.

The hop's wire form (the endpoint, api/cluster_invoke.py, reads and writes the same):

    POST /_lambkin/cluster/invoke               signed by the sending node (cluster.peers), the event as body
      x-lambkin-function / -version / -revision the version to run (the peer resolves it in its caches)
      x-lambkin-invoked-arn, -request-id, -trace-id, -client-context (as the caller sent it), -log-tail: 1
    200  x-lambkin-outcome: success | error, x-lambkin-error-type, content-type (the function's),
         x-lambkin-payload-bytes: N; the body is the payload, then the log tail
    503  x-lambkin-full: 1                       every init slot is taken there: try the next node
    4xx, 5xx  x-lambkin-error: 1                 a domain error as JSON {kind, code, message, status, fields}
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lambkin.cluster import rendezvous
from lambkin.cluster.peers import PeerClient, PeerUnreachable
from lambkin.environments.pool import Pools
from lambkin.environments.results import FunctionError, Success
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import InvokeRequest, InvokeResult, InvokeTarget
from lambkin.invoke.placement import WARM, Facts, candidates, home_key, idle_publishers, warm_key
from lambkin.invoke.targets import FunctionBusy, FunctionGone

log = logging.getLogger("lambkin.invoke.forward")

PATH = "/_lambkin/cluster/invoke"
FUNCTION = "x-lambkin-function"
VERSION = "x-lambkin-version"
REVISION = "x-lambkin-revision"
INVOKED_ARN = "x-lambkin-invoked-arn"
REQUEST_ID = "x-lambkin-request-id"
TRACE_ID = "x-lambkin-trace-id"
CLIENT_CONTEXT = "x-lambkin-client-context"
LOG_TAIL = "x-lambkin-log-tail"
OUTCOME = "x-lambkin-outcome"
ERROR_TYPE = "x-lambkin-error-type"
PAYLOAD_BYTES = "x-lambkin-payload-bytes"
FULL = "x-lambkin-full"
ERROR = "x-lambkin-error"
# What a hop may take beyond the function's timeout: an init (Lambda's 10 s) and a margin.
HOP_MARGIN_S = 40.0
HOMES_KEPT = 4096  # versions' rankings remembered (all forgotten at once past it)
PUBLISH_S = 0.25  # the idle set is looked at this often (the heartbeat carries the last one)


class NodeView(Protocol):
    """A node as placement reads it (cluster.membership.Node)."""

    @property
    def name(self) -> str: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...


class Nodes(Protocol):
    """What placement needs of the cluster's membership (cluster.membership.Membership)."""

    @property
    def name(self) -> str: ...
    def ready(self) -> Sequence[NodeView]: ...
    def publish(self, key: str, value: Any) -> None: ...


Rank = Callable[[str, Sequence[str]], list[str]]


class NodeFull(Exception):
    """The peer answered that every init slot is taken there."""


class RemoteError(Exception):
    """A domain error the peer answered (a refused start, a bad client context...), rendered as it was there."""

    def __init__(self, code: str, message: str, status: int | None, fields: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields


class Forwarder:
    """The Invoker's placement in a cluster: `elsewhere()` runs an invoke on a peer and returns its result, or
    returns None when it is to run here. `run()` publishes this node's idle environments."""

    def __init__(
        self,
        nodes: Nodes,
        peers: PeerClient,
        pools: Pools,
        rank: Rank = rendezvous.rank,
    ) -> None:
        self.nodes = nodes
        self.peers = peers
        self.pools = pools
        self.rank = rank
        self._homes: dict[tuple[str, tuple[str, ...]], list[str]] = {}  # rank's answers, per ready set
        # peers_for's answers by function and version, with the version and the ready list they were for
        self._placed: dict[tuple[str, str], tuple[InvokeTarget, Sequence[NodeView], tuple[str, ...]]] = {}

    def homes(self, version: InvokeTarget, names: Sequence[str]) -> list[str]:
        """`names` ranked for the version (remembered: the same key and nodes rank the same every time)."""
        key = (home_key(version), tuple(names))
        ranked = self._homes.get(key)
        if ranked is None:
            if len(self._homes) >= HOMES_KEPT:
                self._homes.clear()
            ranked = self._homes[key] = self.rank(key[0], names)
        return ranked

    def peers_for(self, version: InvokeTarget) -> Sequence[str]:
        """The peers to try for an invoke of `version`, best first (placement.candidates up to this node);
        empty: it runs here. Worked out once per version and view of the cluster (the version is the same
        object until it changes, and so is the nodes' ready list, with the warm sets they published)."""
        if self.pools.has_idle(version):
            return ()
        ready = self.nodes.ready()
        key = (version.function_arn, version.version)
        placed = self._placed.get(key)
        if placed is not None and placed[0] is version and placed[1] is ready:
            return placed[2]
        me = self.nodes.name
        if not ready or (len(ready) == 1 and ready[0].name == me):
            peers: tuple[str, ...] = ()
        else:
            homes = self.homes(version, [node.name for node in ready])
            published = {node.name: node.extra.get(WARM) for node in ready}
            order = candidates(Facts(me, False, homes, idle_publishers(me, published, warm_key(version))))
            peers = tuple(order[: order.index(me)])
        if len(self._placed) >= HOMES_KEPT:
            self._placed.clear()
        self._placed[key] = (version, ready, peers)
        return peers

    async def elsewhere(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult | None:
        for node in self.peers_for(version):
            try:
                return await self.forward(node, version, request)
            except NodeFull:
                log.debug("node %s is full for %s; trying the next", node, version.function_arn)
            except PeerUnreachable as exc:
                log.warning("node %s did not take an invoke of %s: %s", node, version.function_arn, exc)
        return None

    async def forward(self, node: str, version: InvokeTarget, request: InvokeRequest) -> InvokeResult:
        """One hop: the invoke runs on `node`. Raises NodeFull, PeerUnreachable, or the domain error the peer
        answered (Throttled, FunctionGone, FunctionBusy, RemoteError)."""
        assert request.request_id is not None
        headers = request_headers(version, request)
        timeout_s = float(version.timeout) + HOP_MARGIN_S
        reply = await self.peers.request(node, "POST", PATH, headers, request.payload, timeout_s)
        body = await reply.read()  # PeerUnreachable if the peer went away while it answered (it may have run)
        if reply.status == 200:
            return decode_result(request.request_id, reply.headers, body)
        if reply.status == 503 and reply.headers.get(FULL):
            raise NodeFull(node)
        raise decode_error(reply.status, body)

    async def run(self) -> None:
        """Publishes the warm keys of the versions idle here whenever they change (until cancelled)."""
        last: list[str] | None = None
        while True:
            warm = sorted({warm_key(version) for version in self.pools.idle_versions()})
            if warm != last:
                self.nodes.publish(WARM, warm)
                last = warm
            await asyncio.sleep(PUBLISH_S)


def request_headers(version: InvokeTarget, request: InvokeRequest) -> dict[str, str]:
    headers = {
        FUNCTION: version.name,
        VERSION: version.version,
        REVISION: version.revision_id,
        INVOKED_ARN: request.invoked_function_arn,
        REQUEST_ID: request.request_id or "",
        "content-type": "application/octet-stream",
    }
    if request.trace_id:
        headers[TRACE_ID] = request.trace_id
    if request.client_context:
        headers[CLIENT_CONTEXT] = request.client_context
    if request.log_tail:
        headers[LOG_TAIL] = "1"
    return headers


def decode_request(headers: Mapping[str, str], payload: bytes) -> tuple[str, str, InvokeRequest]:
    """The function name, version and request a hop carries (headers in lower case); KeyError if one lacks."""
    request = InvokeRequest(
        payload=payload,
        invoked_function_arn=headers[INVOKED_ARN],
        client_context=headers.get(CLIENT_CONTEXT),
        trace_id=headers.get(TRACE_ID),
        request_id=headers[REQUEST_ID],
        log_tail=headers.get(LOG_TAIL) == "1",
    )
    return headers[FUNCTION], headers[VERSION], request


def encode_result(result: InvokeResult) -> tuple[list[tuple[str, str]], bytes]:
    """A result as the hop's 200 reply: headers and body (the payload, then the log tail)."""
    outcome = result.outcome
    if isinstance(outcome, Success):
        headers = [(OUTCOME, "success"), ("content-type", outcome.content_type)]
    else:
        headers = [(OUTCOME, "error"), (ERROR_TYPE, outcome.error_type)]
    headers.append((PAYLOAD_BYTES, str(len(outcome.payload))))
    return headers, outcome.payload + result.log_tail


def decode_result(request_id: str, headers: Mapping[str, str], body: bytes) -> InvokeResult:
    size = int(headers.get(PAYLOAD_BYTES, len(body)))
    payload, tail = body[:size], body[size:]
    if headers.get(OUTCOME) == "error":
        return InvokeResult(request_id, FunctionError(headers.get(ERROR_TYPE, ""), payload), tail)
    content_type = headers.get("content-type", "application/json")
    return InvokeResult(request_id, Success(payload, content_type), tail)


def encode_error(error: Exception) -> tuple[int, bytes]:
    """A domain error raised where the invoke was to run, as the hop's reply (status, JSON body)."""
    if isinstance(error, Throttled):
        kind = "throttled"
    elif isinstance(error, FunctionGone):
        kind = "gone"
    elif isinstance(error, FunctionBusy):
        kind = "busy"
    else:
        kind = "error"
    domain = hasattr(error, "code") and hasattr(error, "message")
    status = getattr(error, "status", None)  # None: the service model's for the code
    http_status = status or (429 if kind == "throttled" else 400 if domain else 500)
    body = {
        "kind": kind,
        "code": getattr(error, "code", "ServiceException"),
        "message": getattr(error, "message", str(error)),
        "status": status,
        "fields": dict(getattr(error, "fields", None) or {}),
    }
    return http_status, json.dumps(body).encode()


def decode_error(status: int, body: bytes) -> Exception:
    """The domain error a peer answered, as this node raises it (a throttle is a Throttled here too)."""
    try:
        data = json.loads(body)
        kind, code, message = data["kind"], data["code"], data["message"]
    except (ValueError, KeyError, TypeError):
        return RemoteError("ServiceException", f"a peer answered {status}", 500, {})
    if kind == "throttled":
        return Throttled(str(data.get("fields", {}).get("Reason", "")))
    if kind == "gone":
        return FunctionGone(message)
    if kind == "busy":
        return FunctionBusy(message)
    return RemoteError(code, message, data.get("status"), dict(data.get("fields") or {}))
