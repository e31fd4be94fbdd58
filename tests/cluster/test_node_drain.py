"""SIGTERM drains a node: /health answers 503 and HAProxy stops sending it requests, the invoke it is running
finishes and is answered, then the node exits and its leases are free; started again, it joins again."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from botocore.config import Config

from tests.cluster import Cluster, wait_until
from tests.cluster.functions import probe_function
from tests.e2e.lambda_support import allow_destinations, allow_queue_polling

# Three nodes' cold starts (each unpacks the image) on a loaded machine take minutes, the fixture's included.
pytestmark = [pytest.mark.runc, pytest.mark.timeout(900)]

DRAINED = "node-3"


def queue(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url


def test_a_draining_node_leaves_haproxy_hands_back_its_leases_and_joins_again(cluster: Cluster) -> None:
    node = cluster.nodes[DRAINED]
    assert node.process is not None
    node.process.terminate()
    wait_until(lambda: httpx.get(f"{node.endpoint}/health").status_code == 503, 30, node.log)
    assert httpx.get(f"{node.endpoint}/health").json() == {"status": "draining"}
    cluster.wait_balanced(set(cluster.nodes) - {DRAINED})
    assert node.process.wait(60) == 0
    node.process = None
    assert cluster.query("SELECT state FROM cluster_nodes WHERE name = %s", DRAINED) == []  # it left
    assert cluster.query("SELECT name FROM cluster_leases WHERE holder = %s", DRAINED) == []

    cluster.restart(DRAINED)
    cluster.wait_balanced(set(cluster.nodes))
    assert httpx.get(f"{node.endpoint}/health").json() == {"status": "ok"}
    wait_until(
        lambda: cluster.query("SELECT state FROM cluster_nodes WHERE name = %s", DRAINED) == [("ready",)], 30
    )
    assert cluster.client("sqs").list_queues(QueueNamePrefix="none-such").get("QueueUrls") is None


def test_sigterm_lets_the_invoke_under_way_on_a_node_finish_then_it_joins_again(
    cluster: Cluster, handlers_uri: str
) -> None:
    sqs = cluster.client("sqs")
    said, release = queue(sqs, "drain-said"), queue(sqs, "drain-release")
    allow_destinations(cluster.endpoint)  # the function says where it is (sqs:SendMessage)
    allow_queue_polling(cluster.endpoint)  # and waits for the word to go on (sqs:ReceiveMessage)
    lam = cluster.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    probe_function(
        lam,
        "drain-hold",
        handlers_uri,
        "hold",
        env={"RECORD_QUEUE_URL": said, "RELEASE_QUEUE_URL": release},
        Timeout=120,
    )
    node = cluster.nodes[DRAINED]
    answers: list[dict[str, Any]] = []
    via_node = node.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))

    def invoke() -> None:
        answer = via_node.invoke(
            FunctionName="drain-hold", Payload=json.dumps({"name": "in-flight"}).encode()
        )
        answers.append({**answer, "Payload": json.loads(answer["Payload"].read())})

    in_flight = threading.Thread(target=invoke)
    in_flight.start()
    wait_until(
        lambda: sqs.receive_message(QueueUrl=said, WaitTimeSeconds=1).get("Messages"), 120, cluster.logs
    )  # the function runs

    assert node.process is not None
    node.process.terminate()
    wait_until(lambda: httpx.get(f"{node.endpoint}/health").status_code == 503, 30, node.log)
    assert httpx.get(f"{node.endpoint}/health").json() == {"status": "draining"}
    cluster.wait_balanced(set(cluster.nodes) - {DRAINED})
    assert node.process.poll() is None  # its invoke is still under way: the node waits for it

    sqs.send_message(QueueUrl=release, MessageBody="go on")
    in_flight.join(120)
    assert [(a["StatusCode"], a.get("FunctionError"), a["Payload"]) for a in answers] == [
        (200, None, {"released": "in-flight"})
    ]
    assert node.process.wait(60) == 0
    node.process = None

    cluster.restart(DRAINED)
    cluster.wait_balanced(set(cluster.nodes))
    answer = node.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0})).invoke(
        FunctionName="drain-hold", Payload=json.dumps({"name": "after"}).encode(), InvocationType="DryRun"
    )
    assert answer["StatusCode"] == 204
