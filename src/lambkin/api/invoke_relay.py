"""A plain synchronous Invoke that should run on another node of the cluster, relayed there as the client sent
it, and the receiving node's side of it: the check that it can take the invoke.

The front door's plan (invoke_plan.py) asks `relay()` before anything else. The node that has the caller
parses only the request's head: it finds the version in its cache (a miss goes the usual way, signature
first, so nothing unauthenticated ever reaches the store), asks placement which peers should run it
(`Forwarder.peers_for`: an idle environment there, else the version's home nodes) and sends the client's
request, as it arrived and signed by this node (`cluster.peers`), to the first of them. There the front
door answers it on its own fast path: the client's signature checked, the caller authorized, the invoke
run here (`RequestContext.relayed_by`: never placed again); its answer goes back to the client as it is.
A peer that answers 503 `x-lambkin-full` (`full()`: draining, or no idle environment and no init slot
free there) or does not answer is passed over for the next; when none takes it, it runs here.

The first try is the front door's own, without a task: `route()` (from the head alone, in the parser's
callback) names the peers, and `splice()` writes the request to the first of them as bytes and hands back
its answer as the bytes it came in (cluster/splice.py), which are the client's answer as they are. Only a
request whose head can go as it is takes that way (no hop-by-hop header, no node signature of its own); when
the first peer is full or does not answer, `relay(after=it)` goes on the usual way.

Every other invoke path (async dispatch, pollers, function URLs, streamed invokes) is placed by the Invoker
itself, through the internal invoke endpoint (invoke/forward.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lambkin.cluster.peers import NODE, SIGNATURE, TIME, PeerClient, PeerUnreachable
from lambkin.cluster.splice import Done, Spliced
from lambkin.cluster.wire import HOP_BY_HOP
from lambkin.environments.ports import VersionConfig
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.forward import FULL, HOP_MARGIN_S, Forwarder
from lambkin.invoke.targets import Resolve, Target
from lambkin.protocol.serialize import Reply

log = logging.getLogger("lambkin.api.invoke_relay")

Cached = Callable[[str, str | None], Target | None]  # Targets.cached: a resolve from the cache alone

# The peer's own head, not the client's answer's: this node writes its own length, date and framing.
_DROPPED = frozenset({"content-length", "date", "transfer-encoding", "connection", "keep-alive"})
# A head with any of these does not go to a peer as it is (the node's signature is this node's to write).
_NOT_SPLICED = HOP_BY_HOP | {NODE, TIME, SIGNATURE}
_FULL_HEADER = FULL.encode()


class Splicing(PeerClient, Protocol):
    """Peers that also send a request as bytes (cluster.peers.Peers)."""

    def splice(
        self,
        node: str,
        method: str,
        target: str,
        head: bytes | Mapping[str, str],
        body: bytes,
        done: Done,
        timeout_s: float,
    ) -> None: ...


class InitSlots(Protocol):
    """What the relay asks of this host's environments (environments.pool.Pools)."""

    def full(self, version: VersionConfig) -> bool: ...


def full_reply() -> Reply:
    """A receiving node's answer to a relayed Invoke it cannot take now: the relaying node tries the next."""
    return Reply(503, [(FULL, "1")], b"")


@dataclass(frozen=True, slots=True)
class Placed:
    """What the relay did with an Invoke: `reply` is the answer of the node that ran it; None: it runs
    here, placed by `node` (this one: every peer it should run on refused it), so it is never placed again
    (the plan's `RequestContext.relayed_by`)."""

    node: str
    reply: Reply | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """Where a plain Invoke is relayed: the peers to try, best first, and how long a hop may take."""

    nodes: Sequence[str]
    timeout_s: float
    function_arn: str


class InvokeRelay:
    """Relays plain synchronous Invokes to the node placement picks; answers, for a relayed one, whether
    this node is full."""

    def __init__(
        self,
        cached: Cached,
        resolve: Resolve,
        forwarder: Forwarder,
        peers: Splicing,
        pools: InitSlots,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.cached = cached
        self.resolve = resolve
        self.forwarder = forwarder
        self.peers = peers
        self.pools = pools
        self.draining = draining

    def route(self, name: str, qualifier: str | None, headers: Mapping[str, str]) -> Route | None:
        """The peers a plain Invoke with these (lower-case) `headers` goes to as it came (`splice`), or None:
        it runs here, or takes the usual way (`relay`)."""
        if not _NOT_SPLICED.isdisjoint(headers):
            return None
        return self._route(name, qualifier)

    def _route(self, name: str, qualifier: str | None) -> Route | None:
        """The peers placement sends an Invoke of the version cached here to, or None (not cached, or here)."""
        resolved = self.cached(name, qualifier)
        if resolved is None:
            return None
        version = resolved.version
        nodes = self.forwarder.peers_for(version)
        return Route(nodes, float(version.timeout) + HOP_MARGIN_S, version.function_arn) if nodes else None

    def splice(
        self,
        route: Route,
        target: str,
        head: bytes | Mapping[str, str],
        body: bytes,
        done: Callable[[Spliced], None],
    ) -> None:
        """Sends the Invoke to the route's first peer as the client sent it (its `head` as it came, else its
        lower-case headers); `done` gets that peer's answer as it came, or a failure (`Spliced.failure`; a
        full peer's answer is one too: the next is to be tried, by `relay(after=...)`)."""
        node = route.nodes[0]

        def answered(answer: Spliced) -> None:
            if answer.failure is None and answer.status == 503 and answer.has_header(_FULL_HEADER):
                log.debug("node %s is full for %s; trying the next", node, route.function_arn)
                answer = Spliced(failure=f"node {node} is full")
            elif answer.failure is not None and not answer.stale:  # (stale: sent to it again)
                log.warning(
                    "node %s did not take an invoke of %s: %s", node, route.function_arn, answer.failure
                )
            done(answer)

        self.peers.splice(node, "POST", target, head, body, answered, route.timeout_s)

    async def relay(
        self,
        name: str,
        qualifier: str | None,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        after: str | None = None,
    ) -> Placed | None:
        """The Invoke `target` (its lower-case `headers` and `body` as the client sent them) placed: relayed
        to a peer, or to run here (Placed(None)); None when placement leaves it to the Invoker (not cached
        here, idle here, or a request another node relayed here). `after`: a peer tried already, and those
        before it; only the ones after it are tried."""
        if NODE in headers:  # relayed here (or claiming to be: the signature is checked there)
            return None
        route = self._route(name, qualifier)
        if route is None:
            return None
        nodes = route.nodes
        if after is not None and after in nodes:
            nodes = nodes[nodes.index(after) + 1 :]
        for node in nodes:
            try:
                answer = await self.peers.request(node, "POST", target, headers, body, route.timeout_s)
                data = await answer.read()
            except PeerUnreachable as exc:
                log.warning("node %s did not take an invoke of %s: %s", node, route.function_arn, exc)
                continue
            if answer.status == 503 and answer.headers.get(FULL):
                log.debug("node %s is full for %s; trying the next", node, route.function_arn)
                continue
            kept = [(k, v) for k, v in answer.headers.items() if k not in _DROPPED]
            return Placed(node, Reply(answer.status, kept, data))
        return Placed(self.forwarder.nodes.name)

    async def full(self, name: str, qualifier: str | None) -> bool:
        """Whether this node turns down an Invoke a peer relayed here: it drains, or the version has no idle
        environment here and every init slot is taken (what the internal invoke endpoint answers)."""
        if self.draining():
            return True
        try:
            resolved = await self.resolve(name, qualifier)
        except FunctionsError:
            return False  # the Invoke's handler answers it
        return self.pools.full(resolved.version)
