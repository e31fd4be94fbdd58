"""A burst of cold starts is admitted by the host's cores: every caller is answered and no init runs out of
time because lambkin started more inits than the host can run at once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

FUNCTIONS = 3
CALLERS = 8  # per function: 24 cold starts asked for at once, many times this host's cores
INIT_CPU_S = 1.5  # each init burns this much CPU: 24 of them at once would each take far past the 10 s limit


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    """A client with a connection for every caller of the burst; it never retries behind the test's back."""
    config = Config(read_timeout=300, retries={"max_attempts": 0}, max_pool_connections=FUNCTIONS * CALLERS)
    return server.client("lambda", config=config)


@pytest.fixture(scope="module")
def busy_functions(lam: Any, server: LambkinServer, test_images: BuiltImages) -> list[str]:
    """Functions whose init burns CPU (python-handlers' busy_init), none of them started yet."""
    uri = test_images.push("python-handlers", server.registry, tag="v1")
    names = [f"busy-init-{i}" for i in range(FUNCTIONS)]
    for name in names:
        create_active(
            lam,
            name,
            uri,
            ImageConfig={"Command": ["busy_init.handler"]},
            Environment={"Variables": {"BUSY_INIT_SECONDS": str(INIT_CPU_S)}},
            Timeout=5,
        )
    return names


def log_text(server: LambkinServer, group: str, callers: int) -> str:
    """Every line of a function's log group, once the REPORT line of each of its `callers` invocations is in."""
    logs = server.client("logs")
    for _ in range(600):  # log lines reach the store on the server's next housekeeping tick
        events = logs.filter_log_events(logGroupName=group)["events"]
        text = "\n".join(event["message"] for event in events)
        if text.count("REPORT RequestId") >= callers:
            break
        time.sleep(0.1)
    return text


def test_every_caller_of_a_burst_of_cold_starts_is_answered_without_init_timeouts(
    lam: Any, server: LambkinServer, busy_functions: list[str]
) -> None:
    calls = [(name, caller) for caller in range(CALLERS) for name in busy_functions]

    def invoke(call: tuple[str, int]) -> dict[str, Any]:
        name, caller = call
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"caller": caller}).encode())
        return {"error": response.get("FunctionError"), "payload": json.loads(response["Payload"].read())}

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(invoke, calls))

    failed = [answer for answer in answers if answer["error"] is not None]
    assert failed == []
    assert [answer["payload"]["event"]["caller"] for answer in answers] == [caller for _, caller in calls]
    for name in busy_functions:
        text = log_text(server, f"/aws/lambda/{name}", CALLERS)
        assert "Status: timeout" not in text
        assert "Task timed out" not in text
