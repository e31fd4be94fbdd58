"""Runtimes that misbehave fail as Lambda fails them: one that never asks for work times out its init (and
its retry, which shares the function's timeout with the invocation) with what it printed in the log tail;
one that hangs up within its response fails the invoke at once with Runtime.TruncatedResponse, not at the
function's timeout."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = [pytest.mark.runc, pytest.mark.slow]

# A custom runtime in a few lines of Python: the image's python3 as its entrypoint.
RUNTIME_API = """
import http.client, os, socket, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def next_event():
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    answer = conn.getresponse()
    answer.read()
    return answer.getheader("Lambda-Runtime-Aws-Request-Id")

def respond(request_id, body):
    conn = http.client.HTTPConnection(host, int(port))
    conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=body)
    conn.getresponse().read()

def begin_response(request_id):
    # announces 1000 bytes and sends a few of them
    runtime = socket.create_connection((host, int(port)))
    head = f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\\r\\n"
    runtime.sendall(head.encode() + b"Host: runtime\\r\\nContent-Length: 1000\\r\\n\\r\\n" + b'{"partial": ')
    return runtime
"""

NEVER_ASKS = """
print("loading a model that never finishes loading", flush=True)
time.sleep(3600)
"""

# Past the 10 s init limit, and again in the retry: that retry leaves the invocation too little time.
SLOW_TO_ASK = """
time.sleep(11)
while True:
    request_id = next_event()
    time.sleep(6)
    respond(request_id, b'"done"')
"""

HANGS_UP = """
while True:
    begin_response(next_event()).close()
"""

DIES_WITHIN_ITS_RESPONSE = """
begin_response(next_event())
os._exit(1)
"""


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    # No retries, and a read timeout far below the functions' timeout: an invoke that waited for the
    # function's timeout fails here.
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def image(server: LambkinServer, test_images: BuiltImages) -> str:
    return test_images.push("python-handlers", server.registry, tag="v1")


def runtime(lam: Any, image: str, name: str, body: str, timeout: int) -> str:
    create_active(
        lam,
        name,
        image,
        Timeout=timeout,
        ImageConfig={"EntryPoint": ["/usr/bin/python3", "-c", RUNTIME_API + body], "Command": []},
    )
    return name


def unhandled(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("FunctionError") == "Unhandled", answer
    error: dict[str, Any] = json.loads(answer["Payload"].read())
    return error


def test_a_runtime_that_never_asks_for_work_times_out_its_init_with_its_output_in_the_tail(
    lam: Any, image: str
) -> None:
    name = runtime(lam, image, "never-asks", NEVER_ASKS, timeout=1)
    answer = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    error = unhandled(answer)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    tail = base64.b64decode(answer["LogResult"]).decode()
    # Lambda's init limit, then its retry within the invocation, both reported; what the runtime printed
    # in each attempt is there.
    assert tail.count("loading a model that never finishes loading") == 2, tail
    assert "Phase: init\tStatus: timeout" in tail, tail
    assert "Phase: invoke\tStatus: timeout" in tail, tail


def test_a_suppressed_init_and_its_invocation_share_the_functions_timeout(lam: Any, image: str) -> None:
    """Lambda's words: "the suppressed init completes but does not leave enough time for the Invoke phase
    to complete, causing the Invoke phase to time out" (11 s of init, then 6 of work, in 15 s)."""
    name = runtime(lam, image, "slow-to-ask", SLOW_TO_ASK, timeout=15)
    answer = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    error = unhandled(answer)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Error: Task timed out after 15.00 seconds")
    assert "Phase: init\tStatus: timeout" in base64.b64decode(answer["LogResult"]).decode()


@pytest.mark.parametrize(
    ("name", "body"),
    [("hangs-up", HANGS_UP), ("dies-within-its-response", DIES_WITHIN_ITS_RESPONSE)],
    ids=["hangs-up", "dies-within-its-response"],
)
def test_a_response_cut_short_fails_the_invoke_at_once(lam: Any, image: str, name: str, body: str) -> None:
    runtime(lam, image, name, body, timeout=900)
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    error = unhandled(answer)
    assert error["errorType"] == "Runtime.TruncatedResponse"
    assert error["errorMessage"] == (
        f"RequestId: {answer['ResponseMetadata']['RequestId']} Error: HTTP request detected as truncated"
    )


def test_the_runtime_that_hung_up_serves_the_next_event(lam: Any, image: str) -> None:
    """After a truncated response the runtime's next /next is answered: its environment is not stuck."""
    answer = lam.invoke(FunctionName="hangs-up", Payload=b"{}")
    assert unhandled(answer)["errorType"] == "Runtime.TruncatedResponse"
