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

Every other invoke path (async dispatch, pollers, function URLs, streamed invokes) is placed by the Invoker
itself, through the internal invoke endpoint (invoke/forward.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lambkin.cluster.peers import NODE, PeerClient, PeerUnreachable
from lambkin.environments.pool import Pools
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.forward import FULL, HOP_MARGIN_S, Forwarder
from lambkin.invoke.targets import Resolve, Target
from lambkin.protocol.serialize import Reply

log = logging.getLogger("lambkin.api.invoke_relay")

Cached = Callable[[str, str | None], Target | None]  # Targets.cached: a resolve from the cache alone

# The peer's own head, not the client's answer's: this node writes its own length, date and framing.
_DROPPED = frozenset({"content-length", "date", "transfer-encoding", "connection", "keep-alive"})


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


class InvokeRelay:
    """Relays plain synchronous Invokes to the node placement picks; answers, for a relayed one, whether
    this node is full."""

    def __init__(
        self,
        cached: Cached,
        resolve: Resolve,
        forwarder: Forwarder,
        peers: PeerClient,
        pools: Pools,
        draining: Callable[[], bool] = lambda: False,
    ) -> None:
        self.cached = cached
        self.resolve = resolve
        self.forwarder = forwarder
        self.peers = peers
        self.pools = pools
        self.draining = draining

    async def relay(
        self, name: str, qualifier: str | None, target: str, headers: Mapping[str, str], body: bytes
    ) -> Placed | None:
        """The Invoke `target` (its lower-case `headers` and `body` as the client sent them) placed: relayed
        to a peer, or to run here (Placed(None)); None when placement leaves it to the Invoker (not cached
        here, idle here, or a request another node relayed here)."""
        if NODE in headers:  # relayed here (or claiming to be: the signature is checked there)
            return None
        resolved = self.cached(name, qualifier)
        if resolved is None:
            return None
        version = resolved.version
        nodes = self.forwarder.peers_for(version)
        if not nodes:
            return None
        timeout_s = float(version.timeout) + HOP_MARGIN_S
        for node in nodes:
            try:
                answer = await self.peers.request(node, "POST", target, headers, body, timeout_s)
                data = await answer.read()
            except PeerUnreachable as exc:
                log.warning("node %s did not take an invoke of %s: %s", node, version.function_arn, exc)
                continue
            if answer.status == 503 and answer.headers.get(FULL):
                log.debug("node %s is full for %s; trying the next", node, version.function_arn)
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
