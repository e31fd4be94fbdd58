"""Nothing acknowledged is lost: messages, deletes and queues survive `kill -9` of the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.harness import LambkinServer

CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LambkinServer]:
    instance = LambkinServer(tmp_path / "data").start()
    try:
        yield instance
    finally:
        instance.stop()


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        bodies += [m["Body"] for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def test_sends_and_deletes_survive_kill_9(own_server: LambkinServer) -> None:
    sqs = own_server.client("sqs", config=CONFIG)
    url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    fifo = sqs.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(100):
        sqs.send_message(QueueUrl=url, MessageBody=f"single {i}")
    for start in range(0, 100, 10):
        entries = [{"Id": str(i), "MessageBody": f"batch {i}"} for i in range(start, start + 10)]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
    for i in range(20):
        sqs.send_message(
            QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}"
        )
    deleted = set()
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        deleted |= {m["Body"] for m in messages}
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    own_server.restart(kill=True)

    sqs = own_server.client("sqs", config=CONFIG)
    expected = {f"single {i}" for i in range(100)} | {f"batch {i}" for i in range(100)}
    remaining = drain(sqs, url)
    assert len(remaining) == len(set(remaining)) == 150
    assert set(remaining) == expected - deleted
    again = sqs.send_message(QueueUrl=fifo, MessageBody="f0", MessageGroupId="g", MessageDeduplicationId="d0")
    assert again["SequenceNumber"]  # deduplicated against the message sent before the kill
    assert drain(sqs, fifo) == [f"f{i}" for i in range(20)]


def test_no_acknowledged_send_is_lost_when_killed_mid_run(own_server: LambkinServer) -> None:
    sqs = own_server.client("sqs", config=CONFIG)
    url = sqs.create_queue(QueueName="mid-run")["QueueUrl"]
    acknowledged: list[str] = []
    enough = threading.Event()

    def sender() -> None:
        client = own_server.client("sqs", config=CONFIG)
        i = 0
        try:
            while True:
                client.send_message(QueueUrl=url, MessageBody=f"m{i}")
                acknowledged.append(f"m{i}")
                i += 1
                if i == 300:
                    enough.set()
        except Exception:
            enough.set()  # the server died under us: everything acknowledged so far must be on disk

    thread = threading.Thread(target=sender)
    thread.start()
    enough.wait(timeout=120)
    own_server.stop(kill=True)
    thread.join(timeout=60)
    own_server.start()
    survivors = set(drain(own_server.client("sqs", config=CONFIG), url))
    assert len(acknowledged) >= 300
    assert set(acknowledged) <= survivors
