"""At-least-once across kill -9: every acknowledged async event reaches its success destination."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config

from tests.e2e.lambda_support import allow_destinations, create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

EVENTS = 1000
SENDERS = 8
KILL_AFTER = 500


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LambkinServer]:
    instance = LambkinServer(tmp_path / "data", env={"LAMBKIN_ASYNC_CONCURRENCY": "8"}).start()
    try:
        yield instance
    finally:
        instance.stop()


def test_no_accepted_event_is_lost_when_the_server_is_killed(
    own_server: LambkinServer, test_images: BuiltImages
) -> None:
    uri = test_images.push("python-handlers", own_server.registry, tag="v1")
    lam = own_server.client("lambda")
    sqs = own_server.client("sqs")
    url = sqs.create_queue(QueueName="crash-records")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allow_destinations(own_server.endpoint)  # the role delivers the records to the queue
    create_active(lam, "crash-echo", uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="crash-echo", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )

    accepted: set[str] = set()
    lock = threading.Lock()
    half_way = threading.Event()
    refused: list[int] = []

    def sender(index: int) -> None:
        client = own_server.client(
            "lambda", config=Config(retries={"max_attempts": 0}, connect_timeout=1, read_timeout=10)
        )
        mine = 0
        while mine < EVENTS // SENDERS:
            try:
                response = client.invoke(
                    FunctionName="crash-echo",
                    InvocationType="Event",
                    Payload=json.dumps({"sender": index, "n": mine}).encode(),
                )
            except Exception:  # the server is down: this event was not acknowledged, send another
                time.sleep(0.05)
                continue
            if response["StatusCode"] != 202:
                refused.append(response["StatusCode"])
                continue
            mine += 1
            with lock:
                accepted.add(response["ResponseMetadata"]["RequestId"])
                if len(accepted) >= KILL_AFTER:
                    half_way.set()
        client.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    assert half_way.wait(120)
    own_server.restart(kill=True)  # SIGKILL mid-way: events are being accepted and dispatched
    for thread in threads:
        thread.join(180)
    assert not refused
    assert len(accepted) == EVENTS, f"only {len(accepted)} events were accepted"

    sqs = own_server.client("sqs")
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while not accepted <= seen and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        for message in messages:
            seen.add(json.loads(message["Body"])["requestContext"]["requestId"])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
    missing = accepted - seen
    assert not missing, f"{len(missing)} accepted events never reached the destination"
