"""A function flooding its output: every line is stored, in order, and the server answers meanwhile."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = [pytest.mark.runc, pytest.mark.timeout(300)]

MEGABYTES = 8
LINES = MEGABYTES * 1024 * 1024 // 100  # app.flood's lines are 100 bytes


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def uri(server: LambkinServer, test_images: BuiltImages) -> str:
    return test_images.push("python-handlers", server.registry, tag="v1")


def flood(lam: Any, uri: str, name: str) -> str:
    create_active(lam, name, uri, ImageConfig={"Command": ["app.flood"]}, MemorySize=1769, Timeout=120)
    return name


def stored(server: LambkinServer, group: str) -> list[str]:
    """Every message of the group's one stream, oldest first, read as a user does (GetLogEvents' pages)."""
    logs = server.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    messages: list[str] = []
    token: str | None = None
    while True:
        page = logs.get_log_events(
            logGroupName=group,
            logStreamName=stream["logStreamName"],
            startFromHead=True,
            **({"nextToken": token} if token else {}),
        )
        messages += [event["message"] for event in page["events"]]
        if page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


def test_every_line_of_a_flood_is_stored_and_the_server_answers_meanwhile(
    server: LambkinServer, lam: Any, uri: str
) -> None:
    name = flood(lam, uri, "flood")
    lam.invoke(FunctionName=name, Payload=json.dumps({"megabytes": 0}))  # init done before the flood
    answered = 0
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=server.endpoint, timeout=60) as client:
        flooding = pool.submit(lam.invoke, FunctionName=name, Payload=json.dumps({"megabytes": MEGABYTES}))
        while not flooding.done():
            assert client.get("/health").status_code == 200
            answered += 1
        response = flooding.result()
    assert json.loads(response["Payload"].read()) == {"lines": LINES}
    assert answered > 0
    messages = stored(server, f"/aws/lambda/{name}")
    start = next(i for i, m in enumerate(messages) if m.startswith("START") and i > 2)  # the flood's
    end = next(i for i, m in enumerate(messages) if m.startswith("END") and i > start)
    numbers = [int(m.split(" ", 1)[0]) for m in messages[start + 1 : end]]
    assert numbers == list(range(LINES))  # each line one event, none lost, none out of order


def test_a_line_longer_than_an_event_is_split_as_cloudwatch_bounds_an_event(
    server: LambkinServer, lam: Any, uri: str
) -> None:
    name = flood(lam, uri, "long-lines")
    # 1 MiB lines, each stored as events of at most 256 KB (less CloudWatch's 26 bytes of overhead)
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"megabytes": 3, "width": 1 << 20}))
    assert json.loads(response["Payload"].read()) == {"lines": 3}
    messages = stored(server, f"/aws/lambda/{name}")
    start = max(i for i, m in enumerate(messages) if m.startswith("START"))
    end = next(i for i, m in enumerate(messages) if m.startswith("END") and i > start)
    flooded = messages[start + 1 : end]
    assert max(len(m.encode()) for m in flooded) == 256 * 1024 - 26
    assert len("".join(flooded)) == 3 * ((1 << 20) - 1)  # every byte but the newlines
