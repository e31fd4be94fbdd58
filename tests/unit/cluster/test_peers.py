"""Node-to-node signatures: a peer's request verifies; a client's, an altered or an old one does not."""

import asyncio
import time

from lambkin.cluster.membership import Node, SoloMembership
from lambkin.cluster.peers import NODE, SIGNATURE, TIME, Peers
from lambkin.cluster.splice import Spliced

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


async def test_a_signature_is_made_once_a_second_and_a_checked_one_still_expires() -> None:
    sender, receiver = _peers(name="n1"), _peers(name="n2")
    path = "/2015-03-31/functions/fn/invocations"
    first, second = sender.sign("POST", path), sender.sign("POST", path)
    assert first == second or first[TIME] != second[TIME]  # the same within its second
    assert receiver.verify("POST", path, first) == "n1"
    assert receiver.verify("POST", path, first) == "n1"  # (remembered)
    assert receiver.verify("POST", path, {**first, SIGNATURE: "0" * 64}) is None  # not a signature it checked
    old = {NODE: "n1", TIME: str(int(time.time()) - 30)}
    old[SIGNATURE] = sender._mac("n1", old[TIME], "POST", path)
    assert receiver.verify("POST", path, old) == "n1"
    real_time = time.time
    try:  # the same signature, checked again once its minute is over
        time.time = lambda: real_time() + 45  # type: ignore[assignment]
        assert receiver.verify("POST", path, old) is None
    finally:
        time.time = real_time  # type: ignore[assignment]


async def test_a_spliced_request_is_the_clients_head_as_it_came_with_the_nodes_signature() -> None:
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        received.set_result(head + await reader.readexactly(2))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    membership = SoloMembership("n1", "http://127.0.0.1:1")
    sender = Peers(membership, SECRET)
    membership._see({"n1": membership._me(), "n2": Node("n2", f"http://127.0.0.1:{port}", "ready")})
    path = "/2015-03-31/functions/fn/invocations"
    client_head = (
        f"POST {path} HTTP/1.1\r\nHost: lambkin:9000\r\nAuthorization: AWS4 x\r\nContent-Length: 2\r\n\r\n"
    )
    done: asyncio.Future[Spliced] = asyncio.get_running_loop().create_future()
    sender.splice("n2", "POST", path, client_head.encode(), b"{}", done.set_result, 5.0)
    answer = await asyncio.wait_for(done, 5)
    assert (answer.status, answer.data.endswith(b"\r\n\r\nok")) == (200, True)
    data = await received
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert body == b"{}" and "\r\n".join(lines[:4]) + "\r\n" == client_head[: -len("\r\n")]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert _peers(name="n2").verify("POST", path, headers) == "n1"  # the node's signature, added
    await sender.close()
    server.close()
    await server.wait_closed()
