"""The front door's relay of a plain synchronous Invoke to the node that should run it: what is relayed (a
version cached here that placement sends elsewhere, never a request relayed here already), the client's
request sent as it came and the peer's answer returned as it was, a full or unreachable peer passed over;
and the receiving side: a relayed Invoke answered full, or run here with its relaying node in the context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from lambkin.api.invoke_plan import InvokePlan
from lambkin.api.invoke_relay import InvokeRelay, Placed, Route
from lambkin.cluster.peers import NODE, SIGNATURE, TIME, PeerUnreachable
from lambkin.cluster.splice import Spliced
from lambkin.functions.errors import FunctionNotFound
from lambkin.invoke.forward import FULL, HOP_MARGIN_S, Forwarder
from lambkin.invoke.placement import WARM, warm_key
from lambkin.invoke.targets import Target
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.serialize import Reply
from lambkin.testing.nodes import FakeNodes, Node
from lambkin.testing.versions import FakeVersion
from tests.unit.api.test_invoke_plan import Recorder, gateway, head_of

TARGET = "/2015-03-31/functions/fn/invocations"
HEADERS = {"host": "node-b:9000", "authorization": "AWS4-HMAC-SHA256 ...", "x-amz-date": "20261205T000000Z"}


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    async def read(self) -> bytes:
        return self.body


class StaleConnection(Exception):
    """A kept connection the peer had closed: the request never reached it."""


def raw(answer: Answer) -> bytes:
    """An Answer as a peer writes it."""
    head = f"HTTP/1.1 {answer.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
    return f"{head}content-length: {len(answer.body)}\r\n\r\n".encode() + answer.body


class FakePeers:
    """Answers each node with `answers[node]`: an Answer, or an exception to raise; a splice with
    `spliced[node]` if there is one, else the same."""

    def __init__(
        self, answers: dict[str, Answer | Exception], spliced: dict[str, Answer | Exception] | None = None
    ) -> None:
        self.answers = answers
        self.spliced_answers = spliced or {}
        self.asked: list[tuple[str, str, str, dict[str, str], bytes]] = []
        self.spliced: list[tuple[str, str, str, bytes | dict[str, str], bytes]] = []

    def splice(
        self,
        node: str,
        method: str,
        target: str,
        head: bytes | Mapping[str, str],
        body: bytes,
        done: Callable[[Spliced], None],
        timeout_s: float,
    ) -> None:
        self.spliced.append((node, method, target, head if isinstance(head, bytes) else dict(head), body))
        answer = self.spliced_answers.get(node) or self.answers[node]
        if isinstance(answer, Exception):
            result = Spliced(failure=str(answer), stale=isinstance(answer, StaleConnection))
        else:
            result = Spliced(raw(answer), answer.status, True)
        try:
            asyncio.get_running_loop().call_soon(done, result)  # as a connection's callback would
        except RuntimeError:
            done(result)

    async def request(
        self,
        node: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
        timeout_s: float | None = None,
    ) -> Answer:
        assert isinstance(body, bytes)
        self.asked.append((node, method, target, dict(headers or {}), body))
        answer = self.answers[node]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakePools:
    def __init__(self, idle: bool = False, full: bool = False) -> None:
        self.idle, self.is_full = idle, full

    def has_idle(self, version: FakeVersion) -> bool:
        return self.idle

    def idle_versions(self) -> list[FakeVersion]:
        return [FakeVersion()] if self.idle else []

    def full(self, version: FakeVersion) -> bool:
        return self.is_full


def target(name: str, qualifier: str | None) -> Target | None:
    return Target(FakeVersion(), qualifier) if name == "fn" else None  # type: ignore[arg-type]


async def resolve(name: str, qualifier: str | None) -> Target:
    found = target(name, qualifier)
    if found is None:
        raise FunctionNotFound(f"Function not found: {name}")
    return found


def relay(
    me: str,
    ready: list[Node],
    answers: dict[str, Answer | Exception],
    pools: FakePools | None = None,
    draining: bool = False,
    spliced: dict[str, Answer | Exception] | None = None,
) -> InvokeRelay:
    pools = pools or FakePools()
    peers = FakePeers(answers, spliced)
    forwarder = Forwarder(FakeNodes(me, ready), peers, pools, lambda key, names: sorted(names))  # type: ignore[arg-type]
    return InvokeRelay(target, resolve, forwarder, forwarder.peers, pools, lambda: draining)  # type: ignore[arg-type]


def relayed(relay: InvokeRelay, name: str = "fn", headers: Mapping[str, str] = HEADERS) -> Placed | None:
    return asyncio.run(relay.relay(name, None, TARGET, headers, b'{"n": 1}'))


def asked(relay: InvokeRelay) -> list[tuple[str, str, str, dict[str, str], bytes]]:
    return relay.peers.asked  # type: ignore[attr-defined, no-any-return]


def test_the_client_s_request_goes_as_it_came_and_its_answer_comes_back_as_it_was() -> None:
    answer = Answer(
        200,
        {
            "content-type": "application/json",
            "x-amzn-requestid": "req-there",
            "x-amz-function-error": "Unhandled",
            "content-length": "9",
            "date": "Sat, 05 Dec 2026 20:00:00 GMT",
        },
        b'{"ok": 1}',
    )
    key = warm_key(FakeVersion())
    node = relay("b", [Node("a"), Node("b"), Node("c", {WARM: [key]})], {"c": answer})
    placed = relayed(node)
    assert placed == Placed(
        "c",
        Reply(
            200,
            [
                ("content-type", "application/json"),
                ("x-amzn-requestid", "req-there"),
                ("x-amz-function-error", "Unhandled"),
            ],
            b'{"ok": 1}',
        ),
    )
    assert asked(node) == [("c", "POST", TARGET, HEADERS, b'{"n": 1}')]


def test_an_error_answered_there_is_the_client_s_answer() -> None:
    denied = Answer(403, {"x-amzn-errortype": "AccessDeniedException"}, b'{"Message": "no"}')
    placed = relayed(relay("b", [Node("a"), Node("b")], {"a": denied}))
    assert placed is not None and placed.reply is not None
    assert (placed.reply.status, placed.reply.body) == (403, b'{"Message": "no"}')


def test_a_full_or_unreachable_node_is_passed_over_for_the_next() -> None:
    full = Answer(503, {FULL: "1"})
    node = relay("c", [Node("a"), Node("b"), Node("c")], {"a": full, "b": Answer(200, {}, b"1")})
    placed = relayed(node)
    assert placed is not None and placed.node == "b" and [n for n, *_ in asked(node)] == ["a", "b"]
    node = relay("c", [Node("a"), Node("b"), Node("c")], {"a": full, "b": PeerUnreachable("b", "gone")})
    assert relayed(node) == Placed("c")  # it runs here, placed: never placed again


@pytest.mark.parametrize(
    ("me", "pools", "name", "headers"),
    [
        ("b", FakePools(idle=True), "fn", HEADERS),  # idle here
        ("a", FakePools(), "fn", HEADERS),  # its home is this node
        ("b", FakePools(), "not-cached", HEADERS),  # the usual way: the signature first
        ("b", FakePools(), "fn", {**HEADERS, NODE: "a"}),  # relayed here already (or claiming it)
    ],
)
def test_what_the_invoker_places_is_not_relayed(
    me: str, pools: FakePools, name: str, headers: Mapping[str, str]
) -> None:
    node = relay(me, [Node("a"), Node("b")], {}, pools)
    assert relayed(node, name, headers) is None
    assert asked(node) == []


@pytest.mark.parametrize(
    ("pools", "draining", "name", "full"),
    [
        (FakePools(full=True), False, "fn", True),
        (FakePools(), True, "fn", True),
        (FakePools(), False, "fn", False),
        (FakePools(full=True), False, "missing", False),  # the handler answers that
    ],
)
def test_a_node_is_full_when_draining_or_out_of_init_slots(
    pools: FakePools, draining: bool, name: str, full: bool
) -> None:
    node = relay("a", [Node("a")], {}, pools, draining)
    assert asyncio.run(node.full(name, None)) is full


class NodeSigned:
    """A relayer that takes a request whose NODE header names a node as that node's (as Peers.verify
    would once the signature holds)."""

    def relayed_by(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        return headers.get(NODE)

    async def relay(self, *args: Any) -> Reply:
        raise AssertionError("the plan never relays through the gateway")


def receiving(handler: Recorder, relay: InvokeRelay) -> tuple[InvokePlan, AwsGateway]:
    gw = gateway(handler)
    gw.relayer = NodeSigned()
    return InvokePlan(gw, relay), gw


def answer(plan: InvokePlan, headers: dict[str, str]) -> Reply | None:
    head = head_of({"FunctionName": "fn", "Payload": b'{"n": 1}'})
    params = plan.admit(head.method, head.target, head.headers)
    assert params is not None
    return asyncio.run(plan.answer(params, head.target, {**head.headers, **headers}, head.body, "10.0.0.1"))


def test_a_relayed_invoke_runs_here_with_its_relaying_node_in_the_context() -> None:
    handler = Recorder()
    plan, _ = receiving(handler, relay("a", [Node("a"), Node("b")], {}))
    reply = answer(plan, {NODE: "b"})
    assert reply is not None and reply.status == 200
    [(_, context)] = handler.seen
    assert context.relayed_by == "b"


def test_a_relayed_invoke_a_full_node_cannot_take_is_answered_full_before_it_runs() -> None:
    handler = Recorder()
    plan, _ = receiving(handler, relay("a", [Node("a"), Node("b")], {}, FakePools(full=True)))
    reply = answer(plan, {NODE: "b"})
    assert reply is not None and (reply.status, dict(reply.headers)) == (503, {FULL: "1"})
    assert handler.seen == []


def test_an_invoke_every_peer_refused_runs_here_placed_and_a_client_s_runs_as_usual() -> None:
    handler = Recorder()
    full = Answer(503, {FULL: "1"})
    plan, _ = receiving(handler, relay("c", [Node("a"), Node("c")], {"a": full}))
    assert answer(plan, {}) is not None
    plan, _ = receiving(handler, relay("c", [Node("c")], {}))
    assert answer(plan, {}) is not None
    assert [context.relayed_by for _, context in handler.seen] == ["c", None]


# the front door's own first try: routed from the head alone, spliced as bytes


def test_a_plain_invoke_is_routed_to_the_peers_it_goes_to_as_it_came() -> None:
    key = warm_key(FakeVersion())
    node = relay("b", [Node("a"), Node("b"), Node("c", {WARM: [key]})], {})
    version = FakeVersion()
    assert node.route("fn", None, HEADERS) == Route(
        ("c", "a"), version.timeout + HOP_MARGIN_S, version.function_arn
    )


@pytest.mark.parametrize(
    "extra",
    [
        {NODE: "a"},  # a node's signature is this node's to write
        {TIME: "1"},
        {SIGNATURE: "0"},
        {"connection": "close"},  # hop-by-hop: about the client's connection, not the peer's
        {"expect": "100-continue"},
        {"transfer-encoding": "chunked"},
    ],
)
def test_a_head_that_cannot_go_as_it_came_is_not_routed(extra: dict[str, str]) -> None:
    node = relay("b", [Node("a"), Node("b")], {"a": Answer(200, {}, b"1")})
    assert node.route("fn", None, {**HEADERS, **extra}) is None
    if NODE not in extra:  # the usual way still relays it
        placed = relayed(node, headers={**HEADERS, **extra})
        assert placed is not None and placed.node == "a"


@pytest.mark.parametrize(
    ("me", "pools", "name"),
    [("b", FakePools(idle=True), "fn"), ("a", FakePools(), "fn"), ("b", FakePools(), "not-cached")],
)
def test_what_runs_here_or_is_not_cached_is_not_routed(me: str, pools: FakePools, name: str) -> None:
    assert relay(me, [Node("a"), Node("b")], {}, pools).route(name, None, HEADERS) is None


def test_a_spliced_invoke_gets_the_peer_s_answer_as_it_came_and_a_full_peer_is_a_failure() -> None:
    answer = Answer(200, {"x-amzn-requestid": "req-there", "content-type": "application/json"}, b'{"ok": 1}')
    node = relay("b", [Node("a"), Node("b")], {"a": answer})
    route = node.route("fn", None, HEADERS)
    assert route is not None
    got: list[Spliced] = []
    head = b"POST /2015-03-31/functions/fn/invocations HTTP/1.1\r\nhost: b\r\ncontent-length: 2\r\n\r\n"
    node.splice(route, TARGET, head, b"{}", got.append)
    assert got == [Spliced(raw(answer), 200, True)]
    assert node.peers.spliced == [("a", "POST", TARGET, head, b"{}")]  # type: ignore[attr-defined]
    full = relay("b", [Node("a"), Node("b")], {"a": Answer(503, {FULL: "1"})})
    full.splice(route, TARGET, head, b"{}", got.append)
    assert got[1].failure == "node a is full"
    refused = Answer(503, {"x-amzn-errortype": "ServiceException"}, b"{}")  # a 503 of its own: the answer
    other = relay("b", [Node("a"), Node("b")], {"a": refused})
    other.splice(route, TARGET, head, b"{}", got.append)
    assert got[2].failure is None and got[2].status == 503


def test_the_usual_way_after_a_peer_goes_on_with_the_ones_after_it() -> None:
    node = relay("c", [Node("a"), Node("b"), Node("c")], {"b": Answer(200, {}, b"from b")})
    placed = asyncio.run(node.relay("fn", None, TARGET, HEADERS, b"{}", after="a"))
    assert placed is not None and placed.node == "b" and [n for n, *_ in asked(node)] == ["b"]
    placed = asyncio.run(node.relay("fn", None, TARGET, HEADERS, b"{}", after="b"))
    assert placed == Placed("c")  # none is left: it runs here
