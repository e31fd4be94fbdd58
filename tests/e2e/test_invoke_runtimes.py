"""Invoke end to end beyond the Python runtime: a shell custom runtime (curl), isolation, the AWS CLI,
updates that drain environments, and the function's logs through CloudWatch Logs and `lambkin logs`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lambda_support import create_active
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc


@pytest.fixture(scope="module")
def shell_uri(server: LambkinServer, test_images: BuiltImages) -> str:
    return test_images.push("shell-runtime", server.registry, tag="v1")


def invoke(lam: Any, name: str, event: object, **extra: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def test_shell_custom_runtime_echo_error_and_exit(lam: Any, shell_uri: str) -> None:
    create_active(lam, "sh-echo", shell_uri, ImageConfig={"Command": ["echo"]})
    response, body = invoke(lam, "sh-echo", {"from": "shell"})
    assert (response["StatusCode"], body) == (200, {"from": "shell"})
    create_active(lam, "sh-error", shell_uri, ImageConfig={"Command": ["error"]})
    response, body = invoke(lam, "sh-error", {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ShellError"
    create_active(lam, "sh-exit", shell_uri, ImageConfig={"Command": ["exit"]})
    response, body = invoke(lam, "sh-exit", {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: exit status 3")


def test_shell_runtime_init_error(lam: Any, shell_uri: str) -> None:
    create_active(lam, "sh-init-error", shell_uri, ImageConfig={"Command": ["init_error"]})
    response, body = invoke(lam, "sh-init-error", {})
    assert response["FunctionError"] == "Unhandled"
    assert body == {"errorMessage": "init failed on purpose", "errorType": "ShellInitError"}


@pytest.mark.parametrize(
    ("entrypoint", "reason"),
    [("/nonexistent/bootstrap", "no such file or directory"), ("/etc", "permission denied")],
)
def test_an_entrypoint_that_cannot_be_executed_is_runtime_invalid_entrypoint(
    lam: Any, shell_uri: str, entrypoint: str, reason: str
) -> None:
    name = f"sh-entry-{reason.split()[0]}"
    create_active(lam, name, shell_uri, ImageConfig={"EntryPoint": [entrypoint], "Command": ["echo"]})

    response, body = invoke(lam, name, {}, LogType="Tail")

    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": f"RequestId: {request_id} Error: fork/exec {entrypoint}: {reason}",
    }
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Status: error\tError Type: Runtime.InvalidEntrypoint" in log
    assert (
        f"RequestId: {request_id} Error: fork/exec {entrypoint}: {reason}\nRuntime.InvalidEntrypoint" in log
    )


def _network(lam: Any, host: str, port: int, send: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"host": host, "port": port, "timeout": 1}
    if send is not None:
        event["send"] = send
    _, body = invoke(lam, "net", event)
    return dict(body)


def test_sandbox_cannot_reach_the_hosts_loopback_or_other_runtime_apis(
    lam: Any, handlers_uri: str, server: LambkinServer
) -> None:
    create_active(lam, "net", handlers_uri, ImageConfig={"Command": ["app.network"]}, Timeout=10)
    # lambkin itself listens on the host's 127.0.0.1: invisible from the sandbox's own loopback.
    assert _network(lam, "127.0.0.1", server.port)["connected"] is False
    # The host's own addresses and link-local ones are unreachable (tests/security/test_network_isolation.py
    # probes more; only addresses of the host and of the tests' own namespaces are ever tried).
    host_ip = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    for address in [*host_ip[:1], "169.254.169.254"]:
        assert _network(lam, address, server.port)["connected"] is False, address
    # 127.0.0.1:9001 is this sandbox's own Runtime API (the only one it can see): it refuses a second /next
    # while this environment's runtime holds an event.
    own = _network(
        lam, "127.0.0.1", 9001, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert own["connected"] is True
    assert "403" in own["received"].splitlines()[0]
    assert "InvalidStateTransition" in own["received"]


def test_aws_cli_invoke_with_tail(server: LambkinServer, lam: Any, handlers_uri: str, tmp_path: Path) -> None:
    create_active(lam, "cli-echo", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    out = tmp_path / "out.json"
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "lambda",
            "invoke",
            "--endpoint-url",
            server.endpoint,
            "--function-name",
            "cli-echo",
            "--payload",
            '{"via": "cli"}',
            "--log-type",
            "Tail",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["StatusCode"] == 200
    assert printed["ExecutedVersion"] == "$LATEST"
    assert "START RequestId:" in base64.b64decode(printed["LogResult"]).decode()
    assert json.loads(out.read_text()) == {"via": "cli"}


def test_update_drains_old_environments(server: LambkinServer, lam: Any, handlers_uri: str) -> None:
    create_active(
        lam,
        "updated-env",
        handlers_uri,
        ImageConfig={"Command": ["app.env"]},
        Environment={"Variables": {"VV": "1"}},
    )
    _, before = invoke(lam, "updated-env", {})
    assert before["environ"]["VV"] == "1"
    lam.update_function_configuration(FunctionName="updated-env", Environment={"Variables": {"VV": "2"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName="updated-env", WaiterConfig={"Delay": 1})
    _, after = invoke(lam, "updated-env", {})
    assert after["environ"]["VV"] == "2"  # variables are fixed at process start: a new environment
    streams = server.client("logs").describe_log_streams(logGroupName="/aws/lambda/updated-env")["logStreams"]
    assert len(streams) == 2


def test_logs_through_cloudwatch_logs_and_lambkin_logs(
    server: LambkinServer, lam: Any, handlers_uri: str
) -> None:
    create_active(lam, "logger", handlers_uri, ImageConfig={"Command": ["app.log"]})
    response, _ = invoke(lam, "logger", {"lines": ["line one", "line two"], "stderr": ["to stderr"]})
    request_id = response["ResponseMetadata"]["RequestId"]
    logs = server.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logger")["logStreams"]
    assert len(streams) == 1
    assert streams[0]["logStreamName"].split("/")[3].startswith("[$LATEST]")
    events = logs.get_log_events(logGroupName="/aws/lambda/logger", logStreamName=streams[0]["logStreamName"])
    messages = [e["message"] for e in events["events"]]
    assert f"START RequestId: {request_id} Version: $LATEST" in messages, messages
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert {"line one", "line two", "to stderr"} <= set(messages[start:])
    assert f"END RequestId: {request_id}" in messages
    report = next(m for m in messages if m.startswith(f"REPORT RequestId: {request_id}"))
    assert "\tBilled Duration: " in report and "\tInit Duration: " in report
    filtered = logs.filter_log_events(logGroupName="/aws/lambda/logger", filterPattern="two")
    assert [e["message"] for e in filtered["events"]] == ["line two"]
    printed = subprocess.run(
        [sys.executable, "-m", "lambkin", "logs", "logger", "--endpoint-url", server.endpoint],
        capture_output=True,
        text=True,
        env=server.environment(),
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert f"START RequestId: {request_id}" in printed.stdout
    assert "line one" in printed.stdout


def test_output_written_before_the_answer_is_logged_before_end(
    server: LambkinServer, lam: Any, handlers_uri: str
) -> None:
    """Lines a handler prints, then answers at once: each invocation's tail, and its log, has them before END."""
    create_active(lam, "prompt-logger", handlers_uri, ImageConfig={"Command": ["app.log"]})
    filler = ["x" * 200] * 150  # 30 KB: about half a pipe, read in the same turns as the answer
    for i in range(15):
        response, _ = invoke(lam, "prompt-logger", {"lines": [*filler, f"last {i}"]}, LogType="Tail")
        tail = base64.b64decode(response["LogResult"]).decode().splitlines()
        end = tail.index(f"END RequestId: {response['ResponseMetadata']['RequestId']}")
        assert f"last {i}" in tail[:end]


def test_get_log_events_pages_from_the_tail_by_default_and_both_ways_by_token(
    server: LambkinServer, lam: Any, handlers_uri: str
) -> None:
    create_active(lam, "pager", handlers_uri, ImageConfig={"Command": ["app.log"]})
    invoke(lam, "pager", {"lines": [f"line {i}" for i in range(8)]})
    logs = server.client("logs")
    where = {"logGroupName": "/aws/lambda/pager"}
    (stream,) = logs.describe_log_streams(**where)["logStreams"]
    where["logStreamName"] = stream["logStreamName"]
    every = [e["message"] for e in logs.get_log_events(**where, startFromHead=True)["events"]]
    assert every[0].startswith("START") and every[-1].startswith("REPORT") and "line 7" in every

    tail = logs.get_log_events(**where, limit=3)  # startFromHead defaults to false: the latest events
    assert [e["message"] for e in tail["events"]] == every[-3:]
    earlier = logs.get_log_events(**where, limit=3, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in earlier["events"]] == every[-6:-3]

    read: list[str] = []
    token = None
    while True:  # forward from the head, as a reader following a stream does, until the token repeats
        more = {"nextToken": token} if token else {}
        page = logs.get_log_events(**where, limit=3, startFromHead=True, **more)
        read += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert read == every
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(**where, nextToken="x/abc")
