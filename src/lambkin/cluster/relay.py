"""The gateway's relay between nodes: a client's request sent as it arrived to the node that owns its work."""

from __future__ import annotations

from collections.abc import Mapping

from lambkin.cluster.peers import Peers
from lambkin.protocol.serialize import Reply


class PeerRelay:
    """`protocol.service.Relayer` over the cluster's peers."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    def relayed_by(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        return self.peers.verify(method, path, headers)

    async def relay(
        self, url: str, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        response = await self.peers.send(url, method, target, headers, body)
        kept = [
            (k, v) for k, v in response.headers.items() if k not in ("content-length", "x-amzn-requestid")
        ]
        if response.headers.get("content-type", "").startswith("application/vnd.amazon.eventstream"):
            return Reply(response.status, kept, b"", response.stream())
        return Reply(response.status, kept, await response.read())
