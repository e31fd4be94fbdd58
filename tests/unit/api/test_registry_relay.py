"""An upload session's request relayed to the node that holds it: the request as received, the holder's answer back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from lambkin.api.registry_http import Request
from lambkin.api.registry_relay import UploadRelay
from lambkin.images.errors import BlobUploadUnknown

UPLOAD = "0b1e9a8c-3f1d-4c56-9a0e-5d2f7c1b8e44.a"
PATH = f"/v2/app/blobs/uploads/{UPLOAD}"


@dataclass(frozen=True)
class _Node:
    name: str


@dataclass
class _Nodes:
    name: str = "b"
    names: tuple[str, ...] = ("a", "b")

    def live(self) -> list[_Node]:
        return [_Node(n) for n in self.names]


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str]
    chunks: list[bytes] = field(default_factory=list)

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def read(self) -> bytes:
        return b"".join(self.chunks)


class _Peers:
    def __init__(self, answer: _Answer | Exception) -> None:
        self.answer = answer
        self.sent: list[tuple[str, str, str, dict[str, str], bytes]] = []

    async def request(
        self,
        node: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
    ) -> _Answer:
        data = body if isinstance(body, bytes) else b"".join([chunk async for chunk in body])
        self.sent.append((node, method, target, dict(headers or {}), data))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _request(method: str, headers: dict[bytes, bytes], body: bytes, query: bytes = b"") -> Request:
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"headers": list(headers.items()), "query_string": query}
    return Request(scope, receive, method, PATH, {})


async def _relay(relay: UploadRelay, request: Request) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await relay.forward("a", request, send, UPLOAD)
    return sent


async def test_a_chunk_for_another_nodes_session_goes_there_and_its_answer_comes_back() -> None:
    answer = _Answer(202, {"location": PATH, "range": "0-4", "docker-upload-uuid": UPLOAD, "x-other": "no"})
    peers = _Peers(answer)
    headers = {
        b"authorization": b"Basic a2V5OnNlY3JldA==",
        b"content-range": b"0-4",
        b"content-length": b"5",
        b"host": b"balancer:5000",
    }

    sent = await _relay(UploadRelay(_Nodes(), peers), _request("PATCH", headers, b"hello", b"x=1"))

    assert peers.sent == [
        (
            "a",
            "PATCH",
            PATH + "?x=1",
            {"authorization": "Basic a2V5OnNlY3JldA==", "content-range": "0-4", "content-length": "5"},
            b"hello",
        )
    ]
    assert sent[0]["status"] == 202
    assert dict(sent[0]["headers"]) == {
        b"location": PATH.encode(),
        b"range": b"0-4",
        b"docker-upload-uuid": UPLOAD.encode(),
    }
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"" and sent[-1]["more_body"] is False


async def test_a_session_whose_node_is_gone_is_unknown() -> None:
    peers = _Peers(_Answer(202, {}))
    with pytest.raises(BlobUploadUnknown, match="node a, which is gone"):
        await _relay(UploadRelay(_Nodes(names=("b",)), peers), _request("PATCH", {}, b"x"))
    assert peers.sent == []


async def test_a_node_that_does_not_answer_leaves_the_session_unknown() -> None:
    peers = _Peers(TimeoutError("no answer"))
    with pytest.raises(BlobUploadUnknown):
        await _relay(UploadRelay(_Nodes(), peers), _request("PUT", {}, b""))


async def test_a_relayed_request_is_never_relayed_again() -> None:
    peers = _Peers(_Answer(202, {}))
    relayed = _request("PATCH", {b"x-lambkin-node": b"c"}, b"x")
    with pytest.raises(BlobUploadUnknown):
        await _relay(UploadRelay(_Nodes(), peers), relayed)
    assert peers.sent == []
