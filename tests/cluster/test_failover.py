"""kill -9 of one node during a mixed run (async invokes, SQS sends to a queue a mapping drains, sync invokes):
every accepted event and message is processed at least once, sync callers that retry succeed, and the node,
started again, joins again."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

from tests.cluster import Cluster, wait_until
from tests.cluster.functions import probe_function
from tests.e2e.lambda_support import allow_destinations, allow_queue_polling, create_active

# Three nodes' cold starts (each unpacks the image) on a loaded machine take minutes, the fixture's included;
# then the run, a gone node noticed (10 s) and its work taken over.
pytestmark = [pytest.mark.runc, pytest.mark.timeout(1500)]

VICTIM = "node-3"
EVENTS = 150  # async invokes accepted (202)
MESSAGES = 150  # SQS messages accepted (a MessageId)
SYNC_CALLS = 60
SENDERS = 3  # threads of each kind
NOT_RETRIED = Config(read_timeout=60, connect_timeout=2, retries={"max_attempts": 0})
RETRIED = Config(read_timeout=120, connect_timeout=2, retries={"max_attempts": 10, "mode": "standard"})


class Run:
    """What the callers were told: accepted event ids and message bodies, sync answers, failures."""

    def __init__(self, kill_at: int) -> None:
        self.lock = threading.Lock()
        self.events: set[str] = set()
        self.messages: set[str] = set()
        self.sync: list[Any] = []
        self.failures: list[str] = []
        self.kill_at = kill_at
        self.half_way = threading.Event()

    def accepted(self, kind: set[str], key: str) -> None:
        with self.lock:
            kind.add(key)
            if len(self.events) + len(self.messages) >= self.kill_at:
                self.half_way.set()


def until_accepted(send: Callable[[], str | None]) -> str:
    """Sends until the cluster says yes: an attempt that failed (its node died, HAProxy answered 502/503)
    was not accepted, and is sent again (a duplicate of one that was accepted after all is allowed)."""
    while True:
        try:
            key = send()
        except Exception:  # not accepted: try again
            key = None
        if key is not None:
            return key
        time.sleep(0.05)


def drain_bodies(sqs: Any, url: str, wanted: set[str], key: Callable[[str], str], timeout: float) -> set[str]:
    """Receives (and deletes) from `url` until every key in `wanted` was seen or `timeout` passed."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        seen.update(key(m["Body"]) for m in messages)
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return seen


def test_kill_9_of_a_node_during_a_mixed_run_loses_nothing(cluster: Cluster, handlers_uri: str) -> None:
    sqs = cluster.client("sqs", config=RETRIED)
    lam = cluster.client("lambda", config=RETRIED)
    allow_destinations(cluster.endpoint)
    allow_queue_polling(cluster.endpoint)
    done = sqs.create_queue(QueueName="async-done")["QueueUrl"]
    records = sqs.create_queue(QueueName="records")["QueueUrl"]
    source = sqs.create_queue(QueueName="source", Attributes={"VisibilityTimeout": "10"})["QueueUrl"]

    def arn(url: str) -> str:
        return str(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        )

    create_active(lam, "async-echo", handlers_uri)
    lam.put_function_event_invoke_config(
        FunctionName="async-echo", DestinationConfig={"OnSuccess": {"Destination": arn(done)}}
    )
    create_active(lam, "sync-echo", handlers_uri)
    probe_function(lam, "recorder", handlers_uri, "record", env={"RECORD_QUEUE_URL": records}, Timeout=5)
    mapping = lam.create_event_source_mapping(
        FunctionName="recorder", EventSourceArn=arn(source), BatchSize=10
    )
    wait_until(
        lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled", 60, cluster.logs
    )

    run = Run(kill_at=(EVENTS + MESSAGES) // 2)

    def async_sender(index: int) -> None:
        client = cluster.client("lambda", config=NOT_RETRIED)

        def send(payload: bytes) -> str | None:
            answer = client.invoke(FunctionName="async-echo", InvocationType="Event", Payload=payload)
            return str(answer["ResponseMetadata"]["RequestId"]) if answer["StatusCode"] == 202 else None

        for n in range(EVENTS // SENDERS):
            payload = json.dumps({"sender": index, "n": n}).encode()
            run.accepted(run.events, until_accepted(lambda payload=payload: send(payload)))

    def message_sender(index: int) -> None:
        client = cluster.client("sqs", config=NOT_RETRIED)

        def send(body: str) -> str | None:
            return str(client.send_message(QueueUrl=source, MessageBody=body)["MessageId"])

        for n in range(MESSAGES // SENDERS):
            body = f"message-{index}-{n}"
            until_accepted(lambda body=body: send(body))
            run.accepted(run.messages, body)

    def sync_caller(index: int) -> None:
        client = cluster.client("lambda", config=RETRIED)
        for n in range(SYNC_CALLS // SENDERS):
            event = {"caller": index, "n": n}
            try:
                answer = client.invoke(FunctionName="sync-echo", Payload=json.dumps(event).encode())
                body = json.loads(answer["Payload"].read())
            except Exception as exc:  # a caller that retried and still failed: reported
                with run.lock:
                    run.failures.append(f"{event}: {exc!r}")
                continue
            with run.lock:
                run.sync.append((event, answer.get("FunctionError"), body))

    threads = [
        threading.Thread(target=target, args=(i,))
        for target in (async_sender, message_sender, sync_caller)
        for i in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    assert run.half_way.wait(300), cluster.logs()
    cluster.kill(VICTIM)
    for thread in threads:
        thread.join(600)
    assert not any(thread.is_alive() for thread in threads)

    assert not run.failures
    assert len(run.sync) == SYNC_CALLS
    assert all(error is None and body == event for event, error, body in run.sync), run.sync
    assert len(run.events) == EVENTS // SENDERS * SENDERS
    assert len(run.messages) == MESSAGES // SENDERS * SENDERS

    reader = cluster.client("sqs", config=RETRIED)
    delivered = drain_bodies(
        reader, done, run.events, lambda body: json.loads(body)["requestContext"]["requestId"], 300
    )
    assert not run.events - delivered, f"{len(run.events - delivered)} accepted events never processed"
    recorded = drain_bodies(reader, records, run.messages, lambda body: body, 300)
    assert not run.messages - recorded, f"{len(run.messages - recorded)} accepted messages never processed"

    cluster.restart(VICTIM)
    cluster.wait_balanced(set(cluster.nodes))
    again = cluster.nodes[VICTIM].client("lambda", config=NOT_RETRIED)
    answer = again.invoke(FunctionName="sync-echo", Payload=b'{"back": true}')
    assert json.loads(answer["Payload"].read()) == {"back": True}
