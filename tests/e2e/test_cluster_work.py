"""Work shared by two nodes on one PostgreSQL: one queue through either node, and a killed owner's queue
messages and async events carried on by the survivor (their records sent to the other node's queue)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambkin.cluster.rendezvous import owner
from tests import postgres
from tests.e2e.lambda_support import allow_destinations, create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

NODES = ("a", "b")


def node_env(name: str, database: str) -> dict[str, str]:
    return {
        "LAMBKIN_DATABASE_URL": database,
        "LAMBKIN_NODE_NAME": name,
        "LAMBKIN_NODE_GONE_AFTER_S": "3",
        "LAMBKIN_HEARTBEAT_S": "0.5",
    }


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[dict[str, LambkinServer]]:
    database = postgres.shared().create_database("cluster")
    started: dict[str, LambkinServer] = {}
    try:
        for name in NODES:
            started[name] = LambkinServer(tmp_path / name, env=node_env(name, database)).start(timeout=120)
        yield started
    finally:
        for server in started.values():
            server.stop()


def ranked_first(node: str, prefix: str) -> str:
    """A name whose work the node `node` owns while both nodes are ready."""
    return next(n for n in (f"{prefix}-{i}" for i in range(1000)) if owner(n, list(NODES)) == node)


def drain(sqs: Any, url: str, want: int, deadline_s: float = 60.0) -> list[str]:
    """Receives and deletes until `want` distinct message bodies came back (or the deadline passed)."""
    bodies: dict[str, str] = {}
    deadline = time.monotonic() + deadline_s
    while len(bodies) < want and time.monotonic() < deadline:
        try:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = answer.get("Messages", [])
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
        except ClientError as exc:  # the queue's node is gone and not yet declared so: retried, as clients do
            assert exc.response["Error"]["Code"] == "ServiceUnavailable", exc
            time.sleep(0.2)
            continue
        for message in messages:
            bodies[message["MessageId"]] = message["Body"]
    return list(bodies.values())


def test_one_queue_through_either_node(nodes: dict[str, LambkinServer]) -> None:
    a, b = nodes["a"].client("sqs"), nodes["b"].client("sqs")
    for name in (ranked_first("a", "shared"), ranked_first("b", "shared")):
        url_a = a.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        url_b = b.get_queue_url(QueueName=name)["QueueUrl"]
        assert url_a.rpartition("/")[2] == url_b.rpartition("/")[2] == name
        assert b.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"] == url_b
        for i in range(5):
            a.send_message(QueueUrl=url_a, MessageBody=f"via a {i}")
            b.send_message(QueueUrl=url_b, MessageBody=f"via b {i}")
        counts = [
            c.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            for c, u in ((a, url_a), (b, url_b))
        ]
        assert counts == [{"ApproximateNumberOfMessages": "10"}] * 2
        # Received through one node, deleted through the other: one queue, one set of receipts.
        received = b.receive_message(QueueUrl=url_b, MaxNumberOfMessages=10)["Messages"]
        a.delete_message_batch(
            QueueUrl=url_a,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        bodies = [m["Body"] for m in received] + drain(a, url_a, 10 - len(received))
        assert sorted(bodies) == sorted(f"via {n} {i}" for n in NODES for i in range(5))
        attributes = b.get_queue_attributes(QueueUrl=url_b, AttributeNames=["All"])["Attributes"]
        assert (
            attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"],
        ) == (
            "0",
            "0",
        )
        for client in (a, b):
            assert name in [
                u.rpartition("/")[2] for u in client.list_queues(QueueNamePrefix="shared")["QueueUrls"]
            ]
    a.delete_queue(QueueUrl=url_b)
    assert name not in [u.rpartition("/")[2] for u in b.list_queues().get("QueueUrls", [])]


@pytest.mark.runc
def test_a_killed_owners_messages_and_async_events_are_carried_on_by_the_survivor(
    nodes: dict[str, LambkinServer], test_images: BuiltImages
) -> None:
    a, b = nodes["a"], nodes["b"]
    # The function's events and the jobs queue are a's; the records queue is b's: a sends each record
    # through b until it dies.
    function, jobs, records = (
        ranked_first("a", "slow"),
        ranked_first("a", "jobs"),
        ranked_first("b", "records"),
    )
    for server in (a, b):  # each node keeps its own blobs
        uri = test_images.push("python-handlers", server.registry, tag="v1")
    sqs = b.client("sqs")
    records_url = sqs.create_queue(QueueName=records)["QueueUrl"]
    records_arn = sqs.get_queue_attributes(QueueUrl=records_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    jobs_url = sqs.create_queue(QueueName=jobs, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
    allow_destinations(b.endpoint)
    lam = b.client("lambda")
    create_active(lam, function, uri, Timeout=30, ImageConfig={"Command": ["app.timeout"]})
    lam.put_function_event_invoke_config(
        FunctionName=function, DestinationConfig={"OnSuccess": {"Destination": records_arn}}
    )

    accepted: set[str] = set()
    for i in range(20):
        payload = json.dumps({"seconds": 2, "n": i})
        answer = lam.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
        assert answer["StatusCode"] == 202
        accepted.add(answer["ResponseMetadata"]["RequestId"])
    for i in range(20):
        sqs.send_message(QueueUrl=jobs_url, MessageBody=f"job {i}")
    in_flight = sqs.receive_message(QueueUrl=jobs_url, MaxNumberOfMessages=5)["Messages"]
    assert in_flight  # held by a's clients when it dies: back after their visibility timeout

    a.stop(kill=True)

    jobs_seen = drain(sqs, jobs_url, 20)
    assert sorted(jobs_seen) == sorted(f"job {i}" for i in range(20))
    delivered = {json.loads(body)["requestContext"]["requestId"] for body in drain(sqs, records_url, 20, 120)}
    assert accepted <= delivered, f"{len(accepted - delivered)} accepted events never ran"
