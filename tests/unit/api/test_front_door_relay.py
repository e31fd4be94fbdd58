"""The front door's relay of a plain Invoke in a cluster: sent to the peer as the client sent it and the
peer's answer written back as it came, in order with the connection's other answers; a full peer passed
over for the next one the usual way, and a request a kept connection lost sent to the same peer again."""

from __future__ import annotations

import asyncio

from lambkin.api.front_door import FrontDoor
from lambkin.api.invoke_plan import InvokePlan
from lambkin.api.invoke_relay import InvokeRelay
from lambkin.api.root import Mount, RootApp, always
from lambkin.identity.keys import Keyring
from lambkin.invoke.forward import FULL
from lambkin.protocol.gateway import AwsGateway
from lambkin.testing.nodes import Node
from tests.unit.api.test_front_door import ACCOUNT, KEY, _alone, _invoke, _read_responses, _signed, _Transport
from tests.unit.api.test_invoke_relay import Answer, FakePeers, StaleConnection, raw, relay

PATH = "/2015-03-31/functions/fn/invocations"
FROM_A = Answer(200, {"x-amzn-requestid": "ran-on-a", "content-type": "application/json"}, b'{"on": "a"}')


def door(node: InvokeRelay) -> tuple[FrontDoor, _Transport]:
    gateway = AwsGateway({"lambda": {"Invoke": _invoke}}, ACCOUNT, Keyring(KEY, ACCOUNT))
    aws = _alone(gateway)
    plans = {gateway.region: InvokePlan(gateway, node)}
    root = RootApp([Mount("aws", always, aws)])
    front = FrontDoor(root, aws, lambda: None, set(), set(), 75.0, plans=plans)  # type: ignore[arg-type,return-value]
    transport = _Transport()
    front.connection_made(transport)  # type: ignore[arg-type]
    return front, transport


async def answers(transport: _Transport, count: int) -> list[bytes]:
    """The first `count` answers written, each as its bytes."""
    while transport.written.count(b"HTTP/1.1 ") < count:
        transport.wrote.clear()
        await asyncio.wait_for(transport.wrote.wait(), 5)
    parts = transport.written.split(b"HTTP/1.1 ")[1:]
    return [b"HTTP/1.1 " + part for part in parts]


def peers(node: InvokeRelay) -> FakePeers:
    return node.peers  # type: ignore[return-value]


async def test_an_invoke_for_another_node_goes_as_it_came_and_its_answer_comes_back_as_it_came() -> None:
    node = relay("b", [Node("a"), Node("b")], {"a": FROM_A})
    front, transport = door(node)
    first, second = _signed(9000, "POST", PATH, b'"1"'), _signed(9000, "POST", PATH, b'"2"')
    front.data_received(first + second)  # pipelined: the second begins within the first's read
    written = await answers(transport, 2)
    assert written == [raw(FROM_A), raw(FROM_A)]  # the peer's bytes, nothing of this node's
    (node_1, _, target_1, head_1, body_1), (node_2, _, _, head_2, body_2) = peers(node).spliced
    assert (node_1, target_1, body_1, node_2, body_2) == ("a", PATH, b'"1"', "a", b'"2"')
    assert isinstance(head_1, bytes) and first == head_1 + b'"1"'  # its head byte for byte
    assert isinstance(head_2, dict) and head_2["host"] == "127.0.0.1:9000"  # (read mid-read: its headers)
    assert peers(node).asked == []  # no request the usual way
    front.connection_lost(None)


async def test_a_full_peer_is_passed_over_for_the_next_the_usual_way() -> None:
    node = relay(
        "c", [Node("a"), Node("b"), Node("c")], {"a": Answer(503, {FULL: "1"}), "b": Answer(200, {}, b'"b"')}
    )
    front, transport = door(node)
    front.data_received(_signed(9000, "POST", PATH, b'"1"'))
    await answers(transport, 1)
    [(status, _, body)] = _read_responses_of(transport.written)
    assert (status, body) == (200, b'"b"')
    assert [n for n, *_ in peers(node).spliced] == ["a"]
    assert [n for n, *_ in peers(node).asked] == ["b"]  # a, full, is not asked again
    front.connection_lost(None)


async def test_a_request_a_kept_connection_lost_goes_to_the_same_peer_again() -> None:
    node = relay("b", [Node("a"), Node("b")], {"a": FROM_A}, spliced={"a": StaleConnection("closed")})
    front, transport = door(node)
    front.data_received(_signed(9000, "POST", PATH, b'"1"'))
    await answers(transport, 1)
    [(status, headers, body)] = _read_responses_of(transport.written)
    assert (status, headers["x-amzn-requestid"], body) == (200, "ran-on-a", b'{"on": "a"}')
    assert [n for n, *_ in peers(node).asked] == ["a"]
    front.connection_lost(None)


async def test_when_no_peer_takes_it_it_runs_here() -> None:
    node = relay("b", [Node("a"), Node("b")], {"a": Answer(503, {FULL: "1"})})
    front, transport = door(node)
    front.data_received(_signed(9000, "POST", PATH, b'"here"'))
    await answers(transport, 1)
    [(status, _, body)] = _read_responses_of(transport.written)
    assert (status, body) == (200, b'"here"')  # the Invoke handler of this node echoed it
    front.connection_lost(None)


def _read_responses_of(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    class _Bytes:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def recv(self, size: int) -> bytes:
            data, self.data = self.data, b""
            return data

    return _read_responses(_Bytes(data), data.count(b"HTTP/1.1 "))  # type: ignore[arg-type]
