"""Runtimes that misbehave fail as Lambda fails them: one that never asks for work times out its init (and
its retry, which shares the function's timeout with the invocation) with what it printed in the log tail;
one that hangs up within its response fails the invoke at once with Runtime.TruncatedResponse, not at the
function's timeout. A start that fails writes Lambda's START, END and REPORT lines for the caller's request,
in the function's log stream and the caller's tail."""

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

EXITS_IN_INIT = """
print("cannot find my configuration", flush=True)
os._exit(3)
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


def logged(server: LambkinServer, name: str, request_id: str) -> list[str]:
    """The request's lines in the function's log group, from START on, read through CloudWatch Logs."""
    events = server.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    messages = [e["message"] for e in events]
    return messages[messages.index(f"START RequestId: {request_id} Version: $LATEST") :]


def report(messages: list[str], request_id: str) -> str:
    return next(m for m in messages if m.startswith(f"REPORT RequestId: {request_id}\tDuration: "))


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
    # and then the caller's request, as Lambda closes an invocation that timed out
    request_id = answer["ResponseMetadata"]["RequestId"]
    lines = tail.splitlines()
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    assert lines.index(f"END RequestId: {request_id}") > start
    assert report(lines, request_id).endswith("\tStatus: timeout\t"), tail


def test_a_runtime_that_exits_in_init_logs_the_callers_request(
    server: LambkinServer, lam: Any, image: str
) -> None:
    name = runtime(lam, image, "exits-in-init", EXITS_IN_INIT, timeout=30)
    answer = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert unhandled(answer) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    tail = base64.b64decode(answer["LogResult"]).decode().splitlines()
    assert "cannot find my configuration" in tail
    start = tail.index(f"START RequestId: {request_id} Version: $LATEST")
    assert tail[start - 1].startswith("INIT_REPORT Init Duration: ")  # the failed init comes first
    assert tail[start:-1] == [
        f"START RequestId: {request_id} Version: $LATEST",
        f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
        "Runtime.ExitError",
        f"END RequestId: {request_id}",
    ]
    line = report(tail, request_id)
    assert line == tail[-1]
    assert "\tBilled Duration: " in line and "\tMemory Size: 128 MB\tMax Memory Used: " in line
    assert line.endswith("\tStatus: error\tError Type: Runtime.ExitError\t")
    # the same lines in the function's log stream
    stored = logged(server, name, request_id)
    assert "\n".join(stored[: stored.index(line) + 1]) == "\n".join(tail[start:])


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
