"""The front door's relay of a plain synchronous Invoke to the node that should run it: what is relayed (a
version cached here that placement sends elsewhere, never a request relayed here already), the client's
request sent as it came and the peer's answer returned as it was, a full or unreachable peer passed over;
and the receiving side: a relayed Invoke answered full, or run here with its relaying node in the context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from lambkin.api.invoke_plan import InvokePlan
from lambkin.api.invoke_relay import InvokeRelay, Placed
from lambkin.cluster.peers import NODE, PeerUnreachable
from lambkin.functions.errors import FunctionNotFound
from lambkin.invoke.forward import FULL, Forwarder
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


class FakePeers:
    """Answers each node with `answers[node]`: an Answer, or an exception to raise."""

    def __init__(self, answers: dict[str, Answer | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str, str, dict[str, str], bytes]] = []

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
) -> InvokeRelay:
    pools = pools or FakePools()
    forwarder = Forwarder(FakeNodes(me, ready), FakePeers(answers), pools, lambda key, names: sorted(names))  # type: ignore[arg-type]
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
