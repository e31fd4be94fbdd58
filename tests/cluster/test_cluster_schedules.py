"""Scheduler on two nodes: one-time schedules created through either node (HAProxy's round robin) each fire
once, not once per node, into a queue whichever node owns it; no firing is left behind in the store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cluster import Cluster, wait_until

pytestmark = pytest.mark.timeout(600)

SCHEDULES = 12
LEAD_S = 25  # ahead of now: every schedule is created, and known to the firing node, before it falls due
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(Path(tmp_path_factory.mktemp("schedules")), names=("node-1", "node-2")).start()
    try:
        yield running
    finally:
        running.stop()


def send_role(cluster: Cluster, queue_arn: str) -> str:
    iam = cluster.client("iam")
    arn = str(iam.create_role(RoleName="fire", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])
    allow = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}
    iam.put_role_policy(
        RoleName="fire",
        PolicyName="send",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    return arn


def test_a_schedule_fires_once_with_two_nodes(cluster: Cluster) -> None:
    sqs, scheduler = cluster.client("sqs"), cluster.client("scheduler")
    url = sqs.create_queue(QueueName="fired")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = send_role(cluster, queue_arn)
    due = datetime.fromtimestamp(int(time.time()) + LEAD_S, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for n in range(SCHEDULES):  # round robin: half of them through each node
        scheduler.create_schedule(
            Name=f"once-{n}",
            ScheduleExpression=f"at({due})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": queue_arn, "RoleArn": role, "Input": json.dumps({"n": n})},
        )
    received: list[int] = []

    def all_arrived() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            received.append(json.loads(message["Body"])["n"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= SCHEDULES

    wait_until(all_arrived, LEAD_S + 60, lambda: f"received {sorted(received)}\n{cluster.logs()[-4000:]}")
    for _ in range(5):  # the other node had its chance to fire them too
        all_arrived()
    assert sorted(received) == list(range(SCHEDULES))
    assert cluster.query("SELECT count(*) FROM schedule_firings") == [(0,)]
