"""The nodes' queue endpoint (/_lambkin/cluster/queues/send) stores a message without SQS's authorization:
only a node of the cluster may call it. A client, even one signing as the account root or forging the node
headers, gets 403 and no message lands, on a server alone and on a node of a cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests import postgres
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

PATH = "/_lambkin/cluster/queues/send"


@pytest.fixture(params=["alone", "node"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LambkinServer]:
    env = {}
    if request.param == "node":
        env = {
            "LAMBKIN_DATABASE_URL": postgres.shared().create_database("nodeonly"),
            "LAMBKIN_NODE_NAME": "n1",
        }
    instance = LambkinServer(tmp_path / "data", env=env).start(timeout=120)
    try:
        yield instance
    finally:
        instance.stop()


def test_a_client_cannot_send_through_the_nodes_queue_endpoint(server: LambkinServer) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="guarded")["QueueUrl"]
    body = json.dumps({"queue": "guarded", "sender": "x", "body": "injected", "attributes": {}}).encode()
    signed = AWSRequest(
        "POST", server.endpoint + PATH, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "sqs", REGION).add_auth(signed)
    forged = {
        "x-lambkin-node": "n1",
        "x-lambkin-node-time": "0",
        "x-lambkin-node-signature": "0" * 64,
    }
    for headers in ({}, dict(signed.headers.items()), forged):
        answer = httpx.post(server.endpoint + PATH, content=body, headers=headers, timeout=10)
        assert answer.status_code == 403, answer.text
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
