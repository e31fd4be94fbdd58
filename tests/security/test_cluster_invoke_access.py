"""The internal invoke endpoint runs events for the nodes of the cluster only: a client's request, signed
with any key or none, a forged or replayed node signature, never resolves or runs anything."""

from __future__ import annotations

import time
from typing import Any

import httpx

from lambkin.api.cluster_invoke import ClusterInvoke
from lambkin.api.node_only import node_only
from lambkin.cluster.membership import SoloMembership
from lambkin.cluster.peers import SIGNATURE, TIME, Peers
from lambkin.invoke import forward

SECRET = b"s" * 32
EVENT_HEADERS = {
    forward.FUNCTION: "fn",
    forward.VERSION: "$LATEST",
    forward.INVOKED_ARN: "arn:aws:lambda:us-east-1:000000000000:function:fn",
    forward.REQUEST_ID: "r-1",
}


class Nothing:
    """Stands for the resolver, the Invoker and the pools: records that anything was asked at all."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, name: str, qualifier: str | None) -> Any:
        self.asked.append(name)
        raise AssertionError("resolved for a caller that is not a node")


def endpoint(nothing: Nothing) -> httpx.AsyncClient:
    receiver = Peers(SoloMembership("node-a", "http://127.0.0.1:1"), SECRET)
    app = node_only(receiver, ClusterInvoke(nothing.resolve, None, None))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node-a")


async def test_a_clients_request_is_refused_whatever_it_carries() -> None:
    nothing = Nothing()
    async with endpoint(nothing) as client:
        plain = await client.post(forward.PATH, content=b"{}", headers=EVENT_HEADERS)
        sigv4 = await client.post(
            forward.PATH,
            content=b"{}",
            headers={
                **EVENT_HEADERS,
                "authorization": "AWS4-HMAC-SHA256 Credential=LKIATESTKEY000000000/20261205/us-east-1/"
                "lambda/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
            },
        )
    assert (plain.status_code, sigv4.status_code) == (403, 403)
    assert nothing.asked == []


async def test_a_forged_or_replayed_node_signature_is_refused() -> None:
    nothing = Nothing()
    stranger = Peers(SoloMembership("node-b", "http://127.0.0.1:2"), b"x" * 32)  # another cluster's secret
    member = Peers(SoloMembership("node-b", "http://127.0.0.1:2"), SECRET)
    forged = stranger.sign("POST", forward.PATH)
    other_path = member.sign("POST", "/_lambkin/cluster/blobs")
    replayed = member.sign("POST", forward.PATH)
    replayed[TIME] = f"{time.time() - 300:.3f}"
    replayed[SIGNATURE] = member._mac("node-b", replayed[TIME], "POST", forward.PATH)
    async with endpoint(nothing) as client:
        for headers in (forged, other_path, replayed):
            answer = await client.post(forward.PATH, content=b"{}", headers={**EVENT_HEADERS, **headers})
            assert answer.status_code == 403
    assert nothing.asked == []


async def test_a_nodes_request_reaches_the_endpoint() -> None:
    """The refusals above are the signature's doing: the same request signed by a node gets through."""
    nothing = Nothing()
    member = Peers(SoloMembership("node-b", "http://127.0.0.1:2"), SECRET)
    async with endpoint(nothing) as client:
        headers = {**EVENT_HEADERS, **member.sign("POST", forward.PATH)}
        await client.post(forward.PATH, content=b"{}", headers=headers)
    assert nothing.asked == ["fn"]
