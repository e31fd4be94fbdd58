"""Placement in a cluster of two real nodes on one PostgreSQL: an invoke through the node without an
environment runs on the other node's warm one (one hop), errors and log tails as on one node, the internal
endpoint closed to clients, and reserved concurrency that holds across the nodes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambkin.cluster.rendezvous import rank
from tests.e2e.lambda_support import create_active, execution_role
from tests.harness import REGION, LambkinServer
from tests.images import BuiltImages
from tests.postgres import PostgresServer

pytestmark = pytest.mark.runc

NODES = ("node-a", "node-b")
ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LambkinServer]]:
    """Two nodes on a PostgreSQL of their own; each takes one init at a time, so a burst spills over."""
    postgres = PostgresServer().start()
    url = postgres.create_database("placement")
    servers: dict[str, LambkinServer] = {}
    try:
        for name in NODES:
            data = Path(tmp_path_factory.mktemp(name)) / "data"
            env = {
                "LAMBKIN_DATABASE_URL": url,
                "LAMBKIN_NODE_NAME": name,
                "LAMBKIN_HEARTBEAT_S": "0.2",
                "LAMBKIN_MAX_PARALLEL_STARTS": "1",
                "LAMBKIN_FREEZE_AFTER": "60",
            }
            servers[name] = LambkinServer(data, env=env).start()
            # The functions' role, made before the other node starts: it loads IAM from the database then
            # (news of IAM changes between running nodes is the caches' part of the cluster, not this test's).
            execution_role(servers[name].endpoint)
        each_sees_the_other_ready(url)
        yield servers
    finally:
        for server in servers.values():
            server.stop()
        postgres.remove()


def each_sees_the_other_ready(url: str, limit_s: float = 30.0) -> None:
    """Until both nodes are ready and each has beaten (and so read the other's row) since."""
    import psycopg

    deadline = time.monotonic() + limit_s
    since: float | None = None
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(
                "SELECT state, beat_at, extract(epoch from clock_timestamp()) FROM cluster_nodes"
            ).fetchall()
            if since is None and len(rows) == len(NODES) and all(row[0] == "ready" for row in rows):
                since = float(rows[0][2])
            if since is not None and all(float(row[1]) > since for row in rows):
                return
            time.sleep(0.05)
    raise TimeoutError("the nodes did not see each other ready")


@pytest.fixture(scope="module")
def image(nodes: dict[str, LambkinServer], test_images: BuiltImages) -> dict[str, str]:
    """python-handlers pushed to every node (each keeps its own blobs; the catalog is shared), its URI on
    each node's registry."""
    return {
        name: test_images.push("python-handlers", server.registry, tag="v1") for name, server in nodes.items()
    }


def client(server: LambkinServer) -> Any:
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


def home(function: str) -> str:
    return rank(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:$LATEST", list(NODES))[0]


def state(lam: Any, function: str, **extra: Any) -> dict[str, Any]:
    response = lam.invoke(FunctionName=function, Payload=b"{}", **extra)
    assert "FunctionError" not in response
    result: dict[str, Any] = json.loads(response["Payload"].read())
    return result


def test_an_invoke_through_the_other_node_runs_on_the_warm_environment(
    nodes: dict[str, LambkinServer], image: dict[str, str]
) -> None:
    function = "placed"
    has = home(function)
    other = next(name for name in NODES if name != has)
    create_active(client(nodes[other]), function, image[other], ImageConfig={"Command": ["app.state"]})
    warm = state(client(nodes[has]), function)  # the cold start, on its home
    # The other node knows the function as soon as its caches do: its invokes go to the same environment.
    deadline = time.monotonic() + 10
    seen = state(client(nodes[other]), function)
    while seen["init_time"] != warm["init_time"] and time.monotonic() < deadline:
        seen = state(client(nodes[other]), function)
    assert seen["init_time"] == warm["init_time"]
    counts = [state(client(nodes[name]), function)["invocations"] for name in (other, has, other, other)]
    assert counts == list(range(seen["invocations"] + 1, seen["invocations"] + 5))


def test_function_errors_and_log_tails_come_back_through_the_hop(
    nodes: dict[str, LambkinServer], image: dict[str, str]
) -> None:
    function = "placed-error"
    has = home(function)
    other = next(name for name in NODES if name != has)
    create_active(client(nodes[has]), function, image[has], ImageConfig={"Command": ["app.error"]})
    lam = client(nodes[other])
    response = lam.invoke(FunctionName=function, Payload=b'{"message": "from afar"}', LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorMessage"] == "from afar"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "START RequestId: " + response["ResponseMetadata"]["RequestId"] in tail
    # Streamed, the same as through the node that has the environment.
    completes = []
    for name in (other, has):
        streamed = client(nodes[name]).invoke_with_response_stream(
            FunctionName=function, Payload=b'{"message": "streamed"}'
        )
        complete = list(streamed["EventStream"])[-1]["InvokeComplete"]
        details = json.loads(complete["ErrorDetails"])
        details.pop("requestId")
        completes.append((complete["ErrorCode"], details))
    assert completes[0] == completes[1]
    assert completes[0][1]["errorMessage"] == "streamed"


def test_the_internal_endpoint_refuses_clients(nodes: dict[str, LambkinServer]) -> None:
    server = nodes[NODES[0]]
    plain = httpx.post(f"{server.endpoint}/_lambkin/cluster/invoke", content=b"{}")
    assert plain.status_code == 403
    forged = httpx.post(
        f"{server.endpoint}/_lambkin/cluster/invoke",
        content=b"{}",
        headers={
            "x-lambkin-node": NODES[1],
            "x-lambkin-node-time": str(int(time.time())),
            "x-lambkin-node-signature": "0" * 64,
            "x-lambkin-function": "placed",
            "x-lambkin-version": "$LATEST",
        },
    )
    assert forged.status_code == 403


def test_reserved_concurrency_holds_across_nodes(
    nodes: dict[str, LambkinServer], image: dict[str, str]
) -> None:
    """Six callers at once, three through each node, of a function reserved 2 that sleeps: whichever nodes
    run them, two run and four are throttled with Lambda's reason."""
    function = "reserved"
    create_active(
        client(nodes[NODES[0]]), function, image[NODES[0]], ImageConfig={"Command": ["app.timeout"]}
    )
    # Reserved before either node runs it: each reads the function afresh at its first invoke.
    client(nodes[NODES[0]]).put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=2)

    def call(name: str) -> str:
        try:
            client(nodes[name]).invoke(FunctionName=function, Payload=json.dumps({"seconds": 6}).encode())
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "TooManyRequestsException"
            return str(exc.response.get("Reason", exc.response["Error"].get("Reason", "")))
        return "ran"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(call, [NODES[0], NODES[1]] * 3))
    assert outcomes.count("ran") == 2
    assert outcomes.count("ReservedFunctionConcurrentInvocationLimitExceeded") == 4
