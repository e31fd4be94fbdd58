"""Blobs fetched from peers: the first live peer that has the blob gives it; lacking, gone or lying peers are passed over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lambkin.images.blobs import BlobStore, sha256_digest
from lambkin.images.peer_blobs import BLOBS_PATH, PeerBlobs

CONTENT = b"a layer pushed to another node" * 1000
DIGEST = sha256_digest(CONTENT)


@dataclass(frozen=True)
class _Node:
    name: str


@dataclass
class _Nodes:
    name: str
    names: Sequence[str]

    def live(self) -> list[_Node]:
        return [_Node(n) for n in self.names]


@dataclass
class _Answer:
    status: int
    body: list[bytes | Exception]
    headers: Mapping[str, str] = field(default_factory=dict)

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self.body:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    async def read(self) -> bytes:
        return b"".join(chunk for chunk in self.body if isinstance(chunk, bytes))


class _Peers:
    """Each node's answer to GET /_lambkin/cluster/blobs/<digest>, and who was asked."""

    def __init__(self, answers: Mapping[str, _Answer | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, str]] = []

    async def request(
        self,
        node: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
    ) -> _Answer:
        self.asked.append((node, target))
        await asyncio.sleep(0)
        answer = self.answers[node]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _fetcher(tmp_path: Path, peers: _Peers, names: Sequence[str]) -> PeerBlobs:
    return PeerBlobs(BlobStore(tmp_path / "blobs"), _Nodes("me", ["me", *names]), peers)


async def test_a_missing_blob_comes_from_the_first_peer_that_has_it(tmp_path: Path) -> None:
    peers = _Peers({"a": _Answer(404, [b"{}"]), "b": _Answer(200, [CONTENT[:5000], CONTENT[5000:]])})
    fetcher = _fetcher(tmp_path, peers, ["a", "b"])

    assert await fetcher.ensure(DIGEST)

    assert fetcher.blobs.read(DIGEST) == CONTENT
    assert peers.asked == [("a", BLOBS_PATH + DIGEST), ("b", BLOBS_PATH + DIGEST)]
    assert list(fetcher.blobs.staging.iterdir()) == []


async def test_a_peer_whose_bytes_do_not_match_the_digest_is_refused(tmp_path: Path) -> None:
    corrupt = CONTENT[:-1] + b"!"
    peers = _Peers({"a": _Answer(200, [corrupt]), "b": _Answer(200, [CONTENT])})
    fetcher = _fetcher(tmp_path, peers, ["a", "b"])

    assert await fetcher.ensure(DIGEST)  # b's copy, not a's
    assert fetcher.blobs.read(DIGEST) == CONTENT


async def test_only_corrupt_copies_leave_the_blob_missing(tmp_path: Path) -> None:
    fetcher = _fetcher(tmp_path, _Peers({"a": _Answer(200, [b"not it"])}), ["a"])

    assert not await fetcher.ensure(DIGEST)
    assert not fetcher.blobs.exists(DIGEST)
    assert list(fetcher.blobs.staging.iterdir()) == []


async def test_a_peer_gone_or_breaking_off_is_passed_over(tmp_path: Path) -> None:
    peers = _Peers(
        {
            "a": ConnectionRefusedError("gone"),
            "b": _Answer(200, [CONTENT[:100], ConnectionResetError("broke off")]),
            "c": _Answer(200, [CONTENT]),
        }
    )
    fetcher = _fetcher(tmp_path, peers, ["a", "b", "c"])

    assert await fetcher.ensure(DIGEST)
    assert [node for node, _ in peers.asked] == ["a", "b", "c"]


async def test_no_peer_with_the_blob_leaves_it_missing(tmp_path: Path) -> None:
    fetcher = _fetcher(tmp_path, _Peers({"a": _Answer(404, [])}), ["a"])
    assert not await fetcher.ensure(DIGEST)


async def test_a_single_node_asks_nobody(tmp_path: Path) -> None:
    fetcher = PeerBlobs(BlobStore(tmp_path / "blobs"))
    assert not await fetcher.ensure(DIGEST)
    fetcher.blobs.put_bytes(CONTENT)
    assert await fetcher.ensure(DIGEST)


async def test_a_blob_already_here_is_not_fetched(tmp_path: Path) -> None:
    peers = _Peers({})
    fetcher = _fetcher(tmp_path, peers, ["a"])
    fetcher.blobs.put_bytes(CONTENT)
    assert await fetcher.ensure(DIGEST)
    assert peers.asked == []


async def test_concurrent_needs_of_one_blob_fetch_it_once(tmp_path: Path) -> None:
    peers = _Peers({"a": _Answer(200, [CONTENT])})
    fetcher = _fetcher(tmp_path, peers, ["a"])

    results = await asyncio.gather(*(fetcher.ensure(DIGEST) for _ in range(5)))

    assert results == [True] * 5 and len(peers.asked) == 1


async def test_a_full_disk_here_is_this_nodes_error_not_the_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetcher = _fetcher(tmp_path, _Peers({"a": _Answer(200, [CONTENT])}), ["a"])

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lambkin.images.blobs._write_batch", full)
    with pytest.raises(OSError, match="No space left"):
        await fetcher.ensure(DIGEST)
