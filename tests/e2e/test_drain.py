"""SIGTERM drains a server: /health answers 503 "draining" at once, the invoke under way finishes and is
answered, and only then does the server exit (cleanly, its sandboxes removed)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.config import Config

from tests.cluster import wait_until
from tests.cluster.functions import probe_function
from tests.e2e.lambda_support import allow_destinations, allow_queue_polling
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = [pytest.mark.runc, pytest.mark.timeout(600)]  # a push and a cold start on a loaded machine


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LambkinServer]:
    instance = LambkinServer(tmp_path / "data").start()
    try:
        yield instance
    finally:
        instance.stop()


def test_sigterm_lets_the_invoke_under_way_finish_before_the_server_exits(
    own_server: LambkinServer, test_images: BuiltImages
) -> None:
    uri = test_images.push("python-handlers", own_server.registry, tag="v1")
    sqs = own_server.client("sqs")
    said = sqs.create_queue(QueueName="said")["QueueUrl"]
    release = sqs.create_queue(QueueName="release")["QueueUrl"]
    allow_destinations(own_server.endpoint)
    allow_queue_polling(own_server.endpoint)
    lam = own_server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    probe_function(
        lam, "held", uri, "hold", env={"RECORD_QUEUE_URL": said, "RELEASE_QUEUE_URL": release}, Timeout=120
    )
    answers: list[dict[str, Any]] = []

    def invoke() -> None:
        answer = lam.invoke(FunctionName="held", Payload=json.dumps({"name": "under way"}).encode())
        answers.append({**answer, "Payload": json.loads(answer["Payload"].read())})

    in_flight = threading.Thread(target=invoke)
    in_flight.start()
    wait_until(
        lambda: sqs.receive_message(QueueUrl=said, WaitTimeSeconds=1).get("Messages"), 120, own_server.log
    )

    assert own_server.process is not None
    own_server.process.terminate()
    wait_until(lambda: httpx.get(f"{own_server.endpoint}/health").status_code == 503, 30, own_server.log)
    assert httpx.get(f"{own_server.endpoint}/health").json() == {"status": "draining"}
    assert own_server.process.poll() is None

    sqs.send_message(QueueUrl=release, MessageBody="go on")
    in_flight.join(120)
    assert [(a["StatusCode"], a.get("FunctionError"), a["Payload"]) for a in answers] == [
        (200, None, {"released": "under way"})
    ]
    assert own_server.process.wait(60) == 0
    own_server.process = None
