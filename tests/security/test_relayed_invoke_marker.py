"""A relayed Invoke is told apart by its node signature only: a client's Invoke carrying a forged, foreign or
replayed one is an ordinary Invoke (placed as usual, never answered "full", its caller still the signer of
its SigV4), and a node's genuine one is run here as the node's relay."""

from __future__ import annotations

import asyncio
import time

from lambkin.api.invoke_plan import InvokePlan
from lambkin.api.invoke_relay import InvokeRelay
from lambkin.cluster.membership import SoloMembership
from lambkin.cluster.peers import SIGNATURE, TIME, Peers
from lambkin.cluster.relay import PeerRelay
from lambkin.invoke.forward import Forwarder
from lambkin.protocol.serialize import Reply
from lambkin.testing.nodes import FakeNodes, Node
from tests.unit.api.test_invoke_plan import USER, Recorder, gateway, head_of
from tests.unit.api.test_invoke_relay import FakePeers, FakePools, resolve, target

SECRET = b"s" * 32


def receiver(handler: Recorder) -> InvokePlan:
    """Node a's front door plan, every init slot taken (a relayed Invoke is answered full there)."""
    pools = FakePools(full=True)
    forwarder = Forwarder(FakeNodes("a", [Node("a")]), FakePeers({}), pools)  # type: ignore[arg-type]
    relay = InvokeRelay(target, resolve, forwarder, forwarder.peers, pools)  # type: ignore[arg-type]
    gw = gateway(handler)
    gw.relayer = PeerRelay(Peers(SoloMembership("node-a", "http://127.0.0.1:1"), SECRET))
    return InvokePlan(gw, relay)


def answer(plan: InvokePlan, marker: dict[str, str]) -> Reply | None:
    head = head_of({"FunctionName": "fn", "Payload": b"{}"})
    params = plan.admit(head.method, head.target, head.headers)
    assert params is not None
    headers = {**head.headers, **marker}
    return asyncio.run(plan.answer(params, head.target, headers, head.body, "10.0.0.1"))


def path() -> str:
    return head_of({"FunctionName": "fn"}).target


def test_a_forged_foreign_or_replayed_node_signature_makes_no_relayed_invoke() -> None:
    stranger = Peers(SoloMembership("node-b", "http://127.0.0.1:2"), b"x" * 32)  # another cluster's secret
    member = Peers(SoloMembership("node-b", "http://127.0.0.1:2"), SECRET)
    forged = stranger.sign("POST", path())
    other_path = member.sign("POST", "/_lambkin/cluster/invoke")
    replayed = member.sign("POST", path())
    replayed[TIME] = f"{time.time() - 300:.3f}"
    replayed[SIGNATURE] = member._mac("node-b", replayed[TIME], "POST", path())
    handler = Recorder()
    plan = receiver(handler)
    for marker in (forged, other_path, replayed):
        reply = answer(plan, marker)
        assert reply is not None and reply.status == 200  # not "full": an ordinary Invoke
    assert [context.relayed_by for _, context in handler.seen] == [None, None, None]
    assert all(context.caller == USER for _, context in handler.seen)


def test_a_node_s_genuine_signature_is_a_relayed_invoke() -> None:
    """The refusals above are the signature's doing: the same Invoke signed by a node is that node's relay
    (answered full here, as this node has no init slot free)."""
    handler = Recorder()
    member = Peers(SoloMembership("node-b", "http://127.0.0.1:2"), SECRET)
    reply = answer(receiver(handler), member.sign("POST", path()))
    assert reply is not None and reply.status == 503
    assert handler.seen == []
