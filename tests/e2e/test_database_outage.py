"""PostgreSQL stopped for a few seconds under load: clients get each service's retryable error meanwhile,
nothing lambkin accepted is lost, and lambkin carries on by itself once PostgreSQL is back."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests import postgres
from tests.e2e.lambda_support import allow_destinations, create_active
from tests.harness import LambkinServer, eventually
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
BEFORE = 30  # accepted requests of each kind before PostgreSQL stops
AFTER = 30  # accepted requests of each kind after it is back
OUTAGE_S = 3.0


@pytest.fixture
def database() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL of this test alone: it stops it."""
    server = postgres.PostgresServer().start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def own_server(tmp_path: Path, database: postgres.PostgresServer) -> Iterator[LambkinServer]:
    env = {
        "LAMBKIN_DATABASE_URL": database.create_database(),
        "LAMBKIN_ASYNC_RETRY_SCALE": "0.05",  # an event whose attempt met the outage waits briefly
    }
    instance = LambkinServer(tmp_path / "data", env=env).start()
    try:
        yield instance
    finally:
        instance.stop()


class Load:
    """Threads sending one kind of request until stopped: what was accepted, and every refusal."""

    def __init__(self, send: Any, threads: int) -> None:
        self.send = send
        self.accepted: list[str] = []
        self.refusals: list[tuple[int, str, str]] = []  # (HTTP status, code, message)
        self.other: list[BaseException] = []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(threads)]

    def _loop(self, index: int) -> None:
        n = 0
        while not self.stopped.is_set():
            n += 1
            try:
                accepted = self.send(f"{index}-{n}")
            except ClientError as exc:
                error = exc.response["Error"]
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                with self.lock:
                    self.refusals.append((status, error["Code"], error["Message"]))
                time.sleep(0.05)
                continue
            except Exception as exc:  # not an AWS-shaped answer: the test fails on it
                with self.lock:
                    self.other.append(exc)
                return
            with self.lock:
                self.accepted += accepted

    def count(self) -> tuple[int, int]:
        with self.lock:
            return len(self.accepted), len(self.refusals)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(60)


def drain(sqs: Any, url: str, wanted: set[str], body_key: Any, seconds: float) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while not wanted <= seen and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        seen |= {body_key(m["Body"]) for m in messages}
        if messages:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return seen


def test_postgresql_stopped_under_load(
    own_server: LambkinServer, database: postgres.PostgresServer, test_images: BuiltImages
) -> None:
    uri = test_images.push("python-handlers", own_server.registry, tag="v1")
    lam = own_server.client("lambda", config=CONFIG)
    sqs = own_server.client("sqs", config=CONFIG)
    work = sqs.create_queue(QueueName="outage-work")["QueueUrl"]
    records = sqs.create_queue(QueueName="outage-records")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=records, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allow_destinations(own_server.endpoint)
    create_active(lam, "outage-echo", uri, ImageConfig={"Command": ["app.echo"]})
    lam.put_function_event_invoke_config(
        FunctionName="outage-echo", DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    senders = [own_server.client("sqs", config=CONFIG) for _ in range(2)]
    invokers = [own_server.client("lambda", config=CONFIG) for _ in range(2)]

    def send_batch(key: str) -> list[str]:
        client = senders[int(key.split("-")[0])]
        bodies = [f"{key}/{i}" for i in range(10)]
        answer = client.send_message_batch(
            QueueUrl=work, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
        )
        assert not answer.get("Failed"), answer["Failed"]
        return bodies

    def invoke(key: str) -> list[str]:
        client = invokers[int(key.split("-")[0])]
        answer = client.invoke(
            FunctionName="outage-echo", InvocationType="Event", Payload=json.dumps({"k": key})
        )
        assert answer["StatusCode"] == 202
        return [answer["ResponseMetadata"]["RequestId"]]

    with Load(send_batch, 2) as sends, Load(invoke, 2) as invokes:
        eventually(
            lambda: sends.count()[0] >= BEFORE * 10 and invokes.count()[0] >= BEFORE, "load", every=0.05
        )
        database.stop()
        eventually(
            lambda: sends.count()[1] > 0 and invokes.count()[1] > 0, "refusals while it is down", every=0.05
        )
        time.sleep(OUTAGE_S)  # the outage lasts: requests keep coming and keep being refused
        refused = sends.count()[1], invokes.count()[1]
        accepted = sends.count()[0], invokes.count()[0]
        database.start()
        eventually(
            lambda: (
                sends.count()[0] >= accepted[0] + AFTER * 10 and invokes.count()[0] >= accepted[1] + AFTER
            ),
            "lambkin to accept requests again",
            every=0.05,
        )
    assert not sends.other and not invokes.other, (sends.other, invokes.other)
    assert refused[0] > 1 and refused[1] > 1

    # Each service's own retryable error: SQS's ServiceUnavailable (503), Lambda's ServiceException (500).
    assert {(status, code) for status, code, _ in sends.refusals} == {(503, "ServiceUnavailable")}
    assert {(status, code) for status, code, _ in invokes.refusals} == {(500, "ServiceException")}
    for _, _, message in sends.refusals + invokes.refusals:
        assert "database is unreachable" in message and "Retry" in message

    sent = set(sends.accepted)
    assert sent <= drain(sqs, work, sent, lambda body: body, 120), "an accepted message was lost"
    requested = set(invokes.accepted)
    delivered = drain(
        sqs, records, requested, lambda body: json.loads(body)["requestContext"]["requestId"], 180
    )
    missing = requested - delivered
    assert not missing, f"{len(missing)} accepted async events never reached their destination"
