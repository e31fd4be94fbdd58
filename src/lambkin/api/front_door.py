"""The front door: every HTTP/1.1 connection to lambkin's port starts here.

AWS API requests (the hot path: Invoke, SQS batches, GetFunction) are answered directly, on the HTTP/1.1
core (http11/connection.py): the gateway routes the request's head, the body is buffered up to the
operation's limit, and the gateway's reply is written back, with no ASGI messages in between, one request
at a time in the order they came. A plain synchronous Invoke skips the gateway's generic engine: its
compiled plan (invoke_plan.py) answers it, or hands it back to the gateway when it is not plain after all.
In a cluster, one that should run on another node goes there as it came and its answer comes back as it
came, from the connection's own callbacks (no task: InvokePlan.route and .splice, cluster/splice.py).
A request for any other surface (registry, function URLs, HTTP gateway, /health) hands its connection over
to uvicorn's own protocol, which serves the ASGI app from then on; the hand-over replays the request's
bytes, so nothing is lost, and a HeadGuard (http11/head_guard.py) holds the heads of the requests that
follow to the same limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lambkin.api.aws_regions import RegionalAws
from lambkin.api.invoke_plan import InvokePlan
from lambkin.api.invoke_relay import InvokeRelay, Route
from lambkin.api.root import RootApp
from lambkin.cluster.splice import Spliced
from lambkin.http11 import wire
from lambkin.http11.busy_poll import BusyPoll
from lambkin.http11.connection import Connection
from lambkin.http11.exchange import HandOver, Reply, Request
from lambkin.http11.head_guard import HeadGuard
from lambkin.http11.limits import DEFAULT_LIMITS, HeadLimits
from lambkin.http11.phases import Phase
from lambkin.metrics.recorder import Recorder
from lambkin.protocol.gateway import AwsGateway, Routed, api_request

log = logging.getLogger("lambkin.http")

_KNOWN_HEADS = 64  # (method, path, host) triples a connection remembers the mount of


@dataclass(slots=True)
class _Relayed:
    """A plain Invoke that goes to a peer as it came (`route`: InvokePlan.route). Once that `tried` and the
    peer did not answer, the usual way goes on: after the peer tried (`after`), or from the first peer
    again when a kept connection the peer had closed lost the request (`after` None)."""

    params: dict[str, Any]
    route: Route
    tried: bool = False
    after: str | None = None


# how a request read is to be answered: routed by the gateway, the input of a planned Invoke, or relayed
_Job = Routed | dict[str, Any] | _Relayed


class FrontDoor(Connection):
    """One client connection, answering AWS API requests in order, one at a time (as HTTP/1.1 needs)."""

    def __init__(
        self,
        root: RootApp,
        aws: RegionalAws,
        fallback: Callable[[], asyncio.Protocol],
        connections: set[Any],
        tasks: set[asyncio.Task[None]],
        keep_alive_s: float,
        poll: BusyPoll | None = None,
        limits: HeadLimits = DEFAULT_LIMITS,
        plans: dict[str, InvokePlan] | None = None,
        metrics: Recorder | None = None,
    ) -> None:
        super().__init__(connections, keep_alive_s, poll, limits)
        self._metrics = metrics
        self._root = root
        self._aws = aws  # the mount whose requests are answered here, by the gateway of their region
        self._plans = plans or {}  # by region
        self._fallback = fallback
        self._tasks = tasks
        self._peer = ""
        # the request whose body is being read: routed by the gateway, or the input of a planned Invoke
        self._routed: _Job | None = None
        self._by: AwsGateway = aws.gateway  # the gateway of the request whose body is being read
        # requests read and owed an answer, oldest first: the first is being answered
        self._jobs: deque[tuple[Request, _Job, Reply, AwsGateway]] = deque()
        self._aws_heads: dict[tuple[str, str, str | None], bool] = {}  # see _for_aws

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if peer else ""
        super().connection_made(transport)

    # the connection's questions
    def head_received(self, request: Request) -> int:
        if not self._for_aws(request) or self._parser.should_upgrade():
            raise HandOver
        gateway = self._by = self._aws.pick(request.headers, request.target)
        plan = self._plans.get(gateway.region)
        if plan is not None:
            planned = plan.admit(request.method, request.target, request.headers)
            if planned is not None:
                route = plan.route(planned, request.headers) if self.phase is Phase.OPEN else None
                if route is None:
                    self._routed = planned
                else:  # it goes to a peer as it came
                    request.head = self.raw_head(request)
                    self._routed = _Relayed(planned, route)
                return plan.body_limit
        routed = self._route(request, gateway)
        self._routed = routed
        return routed.body_limit

    def received(self, request: Request, reply: Reply) -> None:
        routed, self._routed = self._routed, None
        assert routed is not None
        self._jobs.append((request, routed, reply, self._by))
        if len(self._jobs) == 1:
            self._answer_first()

    def successor(self) -> asyncio.Protocol:
        return self._fallback()

    def _for_aws(self, request: Request) -> bool:
        """Whether the root app sends the request to the AWS mount. The mounts' matchers see only the
        method, path and host, so the answer is kept per those three for the connection's next requests."""
        key = (request.method, request.path, request.headers.get("host"))
        known = self._aws_heads.get(key)
        if known is None:
            scope = {
                "type": "http",
                "method": request.method,
                "path": unquote(key[1]),
                "headers": _host_header(request.headers),
            }
            mount = self._root.mount_for(scope)
            known = mount is not None and mount.app is self._aws
            if len(self._aws_heads) >= _KNOWN_HEADS:
                self._aws_heads.clear()
            self._aws_heads[key] = known
        return known

    # answers
    def _answer_first(self) -> None:
        request, routed, reply, gateway = job = self._jobs[0]
        if isinstance(routed, _Relayed) and not routed.tried and not request.truncated:
            self._splice(request, routed, reply, gateway)
            return
        task = self._loop.create_task(self._answer(*job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _splice(self, request: Request, relayed: _Relayed, reply: Reply, gateway: AwsGateway) -> None:
        """A plain Invoke relayed to its peer as it came, the peer's answer written back as it came
        (InvokeRelay.splice); when that peer is full or does not answer, the usual way goes on from it."""
        reply.poll_next = True  # a synchronous Invoke: see _POLLED_AFTER
        node = relayed.route.nodes[0]

        def done(answer: Spliced) -> None:
            if answer.failure is not None:
                relayed.tried, relayed.after = True, None if answer.stale else node
                self._answer_first()
                return
            if self._metrics is not None:
                self._metrics.request(_PLANNED, answer.status)
            reply.keep_alive = reply.keep_alive and answer.keep_alive
            reply.finish(answer.data)
            self._next()

        head = request.head or request.headers
        self._plans[gateway.region].splice(relayed.route, request.target, head, request.body, done)

    def _next(self) -> None:
        """The first job is answered: the next one's turn."""
        reply = self._jobs.popleft()[2]
        if self._jobs and self.transport is not None and reply.keep_alive and reply.open:
            self._answer_first()

    def _route(self, request: Request, gateway: AwsGateway) -> Routed:
        return gateway.route(api_request(request.method, request.target, request.headers, self._peer))

    async def _answer(self, request: Request, routed: _Job, reply: Reply, gateway: AwsGateway) -> None:
        head_only = request.method == "HEAD"
        body = None if request.truncated else request.body
        surface = _PLANNED
        try:
            answer = None
            if not isinstance(routed, Routed):
                plan = self._plans[gateway.region]
                reply.poll_next = True  # a synchronous Invoke: see _POLLED_AFTER
                params, after = (
                    (routed.params, routed.after) if isinstance(routed, _Relayed) else (routed, None)
                )
                answer = await plan.answer(params, request.target, request.headers, body, self._peer, after)
                if answer is None:  # not a plain one after all: the gateway answers it
                    routed = self._route(request, gateway)
            if answer is None:
                assert isinstance(routed, Routed)
                reply.poll_next = _latency_bound(routed)
                surface = routed.index.name
                answer = await gateway.answer(routed, body)
            if self._metrics is not None:
                self._metrics.request(surface, answer.status)
            if answer.stream is None:
                reply.send(answer.status, answer.body, answer.headers, head_only)
            else:
                reply.write(reply.head(answer.status, answer.headers, None))
                async for chunk in answer.stream:
                    if not reply.open:
                        break
                    if chunk and not head_only:
                        reply.write(wire.chunk(chunk))
                reply.finish(b"" if head_only else wire.LAST_CHUNK)
        except Exception:  # the gateway answers every failure itself; this is writing the answer failing
            log.exception("answering %s %s failed", request.method, request.path)
            reply.fail()
        self._next()


def front_door(
    root: RootApp,
    aws: RegionalAws,
    poll: BusyPoll | None = None,
    limits: HeadLimits = DEFAULT_LIMITS,
    relay: InvokeRelay | None = None,
    metrics: Recorder | None = None,
) -> Callable[..., asyncio.Protocol]:
    """The protocol factory uvicorn calls (as its `http` class) for each accepted connection; `relay` (a
    cluster's) sends the Invokes that should run on another node there; with `metrics`, every AWS API
    request answered is counted by service and status."""
    plans = {  # a cluster's relay is the home region's (a cluster serves one region)
        name: InvokePlan(served.gateway, relay if served is aws.home else None)
        for name, served in aws.regions.items()
        if "lambda" in served.gateway.indexes
    }

    def create(
        config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None
    ) -> asyncio.Protocol:
        def fallback() -> asyncio.Protocol:
            served = HttpToolsProtocol(
                config=config, server_state=server_state, app_state=app_state, _loop=_loop
            )
            return HeadGuard(served, limits)  # its later requests' heads are bounded too

        return FrontDoor(
            root,
            aws,
            fallback,
            server_state.connections,
            server_state.tasks,
            config.timeout_keep_alive,
            poll,
            limits,
            plans,
            metrics,
        )

    return create


# After these the next request is polled for (busy_poll.py): a caller waiting on a function's answer is on
# the latency path. Throughput-bound traffic (SQS batches, the control plane) leaves the CPU to its clients.
_POLLED_AFTER = frozenset({("lambda", "Invoke")})
_PLANNED = "lambda"  # the surface of the Invokes the plan answers


def _latency_bound(routed: Routed) -> bool:
    operation = routed.operation.name if routed.operation is not None else ""
    return (routed.index.name, operation) in _POLLED_AFTER


def _host_header(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    host = headers.get("host")
    return [(b"host", host.encode("latin-1"))] if host is not None else []
