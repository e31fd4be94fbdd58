"""A node's blobs are served to its peers only: /_lambkin/cluster/blobs/ refuses any request a node of the cluster
did not sign (a client's registry key, forged node headers, a signature made with another secret), and on a
server alone it refuses everyone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from lambkin.cluster.membership import SoloMembership
from lambkin.cluster.peers import Peers
from tests import postgres
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer, free_port

AUTH = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)
DATA = b"a layer only nodes may read through the nodes' endpoint"
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
PATH = f"/_lambkin/cluster/blobs/{DIGEST}"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambkinServer, bytes]]:
    """One node of a cluster, a blob pushed to it, and the cluster's secret (read from the database)."""
    database = postgres.shared().create_database("cluster_blobs")
    port = free_port()
    env = {
        "LAMBKIN_DATABASE_URL": database,
        "LAMBKIN_NODE_NAME": "a",
        "LAMBKIN_ADVERTISE": f"http://127.0.0.1:{port}",
    }
    server = LambkinServer(Path(tmp_path_factory.mktemp("node")) / "data", port=port, env=env).start()
    try:
        pushed = httpx.post(
            f"{server.endpoint}/v2/app/blobs/uploads/", params={"digest": DIGEST}, content=DATA, auth=AUTH
        )
        assert pushed.status_code == 201, pushed.text
        with psycopg.connect(database) as conn:
            row = conn.execute("SELECT secret FROM cluster_secret WHERE id = 1").fetchone()
        assert row is not None
        yield server, bytes.fromhex(row[0])
    finally:
        server.stop()


def _signed(secret: bytes, name: str = "b", path: str = PATH) -> dict[str, str]:
    return Peers(SoloMembership(name, "http://127.0.0.1:1"), secret).sign("GET", path)


def test_a_peer_that_signs_reads_the_blob(node: tuple[LambkinServer, bytes]) -> None:
    server, secret = node
    answer = httpx.get(server.endpoint + PATH, headers=_signed(secret))
    assert (answer.status_code, answer.content) == (200, DATA)


def test_a_client_with_the_registry_key_is_refused(node: tuple[LambkinServer, bytes]) -> None:
    server, _ = node
    answer = httpx.get(server.endpoint + PATH, auth=AUTH)
    assert answer.status_code == 403 and DATA not in answer.content


def test_forged_node_headers_are_refused(node: tuple[LambkinServer, bytes]) -> None:
    server, secret = node
    forged = _signed(secret) | {"x-lambkin-node-signature": "0" * 64}
    assert httpx.get(server.endpoint + PATH, headers=forged).status_code == 403
    renamed = _signed(secret) | {"x-lambkin-node": "a"}  # the signature covers the sender's name
    assert httpx.get(server.endpoint + PATH, headers=renamed).status_code == 403


def test_a_signature_made_with_another_secret_is_refused(node: tuple[LambkinServer, bytes]) -> None:
    server, _ = node
    answer = httpx.get(server.endpoint + PATH, headers=_signed(b"not the cluster's secret"))
    assert answer.status_code == 403 and DATA not in answer.content


def test_a_signature_for_another_path_is_refused(node: tuple[LambkinServer, bytes]) -> None:
    server, secret = node
    other = _signed(secret, path="/_lambkin/cluster/blobs/sha256:" + "0" * 64)
    assert httpx.get(server.endpoint + PATH, headers=other).status_code == 403


def test_only_digests_name_blobs(node: tuple[LambkinServer, bytes]) -> None:
    server, secret = node
    for name in ("sha256:..", "lambkin.db", "sha256:" + "A" * 64):
        path = f"/_lambkin/cluster/blobs/{name}"
        assert httpx.get(server.endpoint + path, headers=_signed(secret, path=path)).status_code == 404


def test_a_server_alone_serves_no_peer(server: LambkinServer) -> None:
    pushed = httpx.post(
        f"{server.endpoint}/v2/app/blobs/uploads/", params={"digest": DIGEST}, content=DATA, auth=AUTH
    )
    assert pushed.status_code == 201
    answer = httpx.get(server.endpoint + PATH, auth=AUTH)
    assert answer.status_code == 403 and DATA not in answer.content
