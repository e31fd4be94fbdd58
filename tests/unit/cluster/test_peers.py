"""Node-to-node signatures: a peer's request verifies; a client's, an altered or an old one does not."""

import time

from lambkin.cluster.membership import SoloMembership
from lambkin.cluster.peers import NODE, SIGNATURE, TIME, Peers

SECRET = b"k" * 32


def _peers(secret: bytes = SECRET, name: str = "n1") -> Peers:
    return Peers(SoloMembership(name, "http://127.0.0.1:1"), secret)


async def test_a_peers_signature_names_it() -> None:
    sender, receiver = _peers(name="n1"), _peers(name="n2")
    headers = sender.sign("POST", "/_lambkin/cluster/invoke")
    assert receiver.verify("POST", "/_lambkin/cluster/invoke", headers) == "n1"


async def test_what_is_not_a_peers_signature_is_refused() -> None:
    sender, receiver = _peers(name="n1"), _peers(name="n2")
    headers = sender.sign("POST", "/_lambkin/cluster/invoke")
    assert receiver.verify("POST", "/_lambkin/cluster/blobs", headers) is None  # another path
    assert receiver.verify("GET", "/_lambkin/cluster/invoke", headers) is None  # another method
    assert receiver.verify("POST", "/_lambkin/cluster/invoke", {**headers, NODE: "n3"}) is None
    assert receiver.verify("POST", "/_lambkin/cluster/invoke", {}) is None  # a client's request
    other = _peers(secret=b"x" * 32)
    assert other.verify("POST", "/_lambkin/cluster/invoke", headers) is None  # another cluster
    old = {**headers, TIME: f"{time.time() - 120:.3f}"}
    old[SIGNATURE] = sender._mac("n1", old[TIME], "POST", "/_lambkin/cluster/invoke")
    assert receiver.verify("POST", "/_lambkin/cluster/invoke", old) is None  # replayed later
