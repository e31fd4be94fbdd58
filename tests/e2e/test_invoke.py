"""Sync Invoke end to end: real runc sandboxes running real awslambdaric images, driven by boto3."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.lambda_support import create_active

pytestmark = pytest.mark.runc


_created: set[str] = set()


def function(lam: Any, handlers_uri: str, name: str, handler: str, **extra: Any) -> str:
    if name not in _created:
        create_active(lam, name, handlers_uri, ImageConfig={"Command": [handler]}, **extra)
        _created.add(name)
    return name


def invoke(lam: Any, name: str, event: object, **extra: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def test_echo_cold_then_warm_with_tail_log(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "echo", "app.echo")
    response, body = invoke(lam, name, {"hello": "world"}, LogType="Tail")
    assert response["StatusCode"] == 200
    assert body == {"hello": "world"}
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {response['ResponseMetadata']['RequestId']} Version: $LATEST" in log
    assert "Init Duration: " in log
    assert "\tMemory Size: 128 MB\tMax Memory Used: " in log
    again, body = invoke(lam, name, {"n": 2}, LogType="Tail")
    assert body == {"n": 2}
    assert "Init Duration" not in base64.b64decode(again["LogResult"]).decode()


def test_warm_reuse_keeps_state(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "state", "app.state")
    _, first = invoke(lam, name, {})
    _, second = invoke(lam, name, {})
    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1


def test_function_error_is_unhandled(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "error", "app.error")
    response, body = invoke(lam, name, {"message": "boom"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "HandlerError"
    assert body["errorMessage"] == "boom"


def test_timeout(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "timeout", "app.timeout", Timeout=1)
    response, body = invoke(lam, name, {"seconds": 30}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Task timed out after 1.00 seconds" in base64.b64decode(response["LogResult"]).decode()
    _, quick = invoke(lam, name, {"seconds": 0})
    assert quick is not None


def test_crash_is_runtime_exit_error(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "crash", "app.crash")
    response, body = invoke(lam, name, {"code": 3})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        f"RequestId: {response['ResponseMetadata']['RequestId']} Error: Runtime exited with error: exit status 3"
    )
    _, again = invoke(lam, name, {"code": 4})
    assert again["errorMessage"].endswith("Runtime exited with error: exit status 4")


def test_runtime_killed_by_a_signal_is_runtime_exit_error(lam: Any, handlers_uri: str) -> None:
    # The runtime is not PID 1 in its sandbox, so a signal it sends itself kills it, as in Lambda.
    name = function(lam, handlers_uri, "selfkill", "app.crash")
    response, body = invoke(lam, name, {"signal": "KILL"})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        f"RequestId: {response['ResponseMetadata']['RequestId']} Error: Runtime exited with error: signal: killed"
    )
    _, again = invoke(lam, name, {"signal": "SEGV"})
    assert again["errorMessage"].endswith("Runtime exited with error: signal: segmentation fault")


def test_out_of_memory_is_runtime_exit_error(lam: Any, handlers_uri: str) -> None:
    # At 128 MB the CPU share is 1/14 of a core: filling memory can take seconds on a loaded machine, and
    # the point here is how the kill is reported, not how fast it comes.
    name = function(lam, handlers_uri, "oom", "app.oom", Timeout=60)
    response, body = invoke(lam, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")


def test_slow_init_within_the_init_limit(lam: Any, handlers_uri: str) -> None:
    name = function(
        lam,
        handlers_uri,
        "slow-init",
        "slow_init.handler",
        Environment={"Variables": {"SLOW_INIT_SECONDS": "2"}},
    )
    response, body = invoke(lam, name, {"slow": True}, LogType="Tail")
    assert body["event"] == {"slow": True}
    assert "Init Duration: 2" in base64.b64decode(response["LogResult"]).decode()


def test_import_error_is_the_init_error(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "import-error", "import_error.handler")
    response, body = invoke(lam, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    missing = function(lam, handlers_uri, "missing-module", "missing.handler")
    response, body = invoke(lam, missing, {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"


def test_large_response_is_response_size_too_large(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "large", "app.large_response")
    response, body = invoke(lam, name, {"size": 7 * 1024 * 1024})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    ok, body = invoke(lam, name, {"size": 1024 * 1024})
    assert "FunctionError" not in ok
    assert len(body) == 1024 * 1024 - 2


def test_tmp_is_writable_and_root_is_not(lam: Any, handlers_uri: str) -> None:
    tmp = function(lam, handlers_uri, "tmp-write", "app.tmp_write")
    response, body = invoke(lam, tmp, {})
    assert "FunctionError" not in response, body
    root = function(lam, handlers_uri, "root-write", "app.root_write")
    response, body = invoke(lam, root, {})
    assert "FunctionError" not in response, body
    assert all(error for error in body.values()), body


def test_environment_variables(lam: Any, handlers_uri: str) -> None:
    name = function(
        lam, handlers_uri, "env", "app.env", MemorySize=256, Environment={"Variables": {"MY_VAR": "mine"}}
    )
    _, body = invoke(lam, name, {})
    env = body["environ"]
    assert env["MY_VAR"] == "mine"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/env"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert body["uid"] != 0


def test_client_context_and_context_fields(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "context", "app.context", Timeout=7)
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    response, body = invoke(lam, name, {}, ClientContext=context)
    assert body["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["function_name"] == "context"
    assert body["invoked_function_arn"].endswith(":function:context")
    assert 0 < body["remaining_time_in_millis"] <= 7000
    assert "k" in json.dumps(body.get("client_context"))


def test_dry_run(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "echo", "app.echo")
    response = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_burst_starts_parallel_environments(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "burst", "app.state")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: invoke(lam, name, {"sleep": 1}), range(4)))
    pids = {body["pid"] for _, body in results}
    assert all("FunctionError" not in r for r, _ in results)
    assert len(results) == 4 and len(pids) >= 1


def test_reserved_concurrency_throttles(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "reserved", "app.echo")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException) as caught:
        invoke(lam, name, {})
    error = caught.value.response
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["Type"] == "User"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    _, body = invoke(lam, name, {"allowed": True})
    assert body == {"allowed": True}


def streamed(
    lam: Any, name: str, event: object, **extra: Any
) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """InvokeWithResponseStream: the response, the payload its PayloadChunk events carry, its InvokeComplete."""
    response = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    chunks: list[bytes] = []
    complete: dict[str, Any] | None = None
    for item in response["EventStream"]:
        if "PayloadChunk" in item:
            assert complete is None, "a PayloadChunk after InvokeComplete"
            chunks.append(item["PayloadChunk"]["Payload"])
        elif "InvokeComplete" in item:
            complete = item["InvokeComplete"]
    assert complete is not None, "the stream ended without InvokeComplete"
    return response, b"".join(chunks), complete


def test_invoke_with_response_stream_carries_the_payload_then_completes(lam: Any, handlers_uri: str) -> None:
    name = function(lam, handlers_uri, "echo", "app.echo")
    event = {"hello": "stream", "blob": "x" * 200_000}  # more than one PayloadChunk
    response, payload, complete = streamed(lam, name, event, LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/json"
    assert json.loads(payload) == event
    assert "ErrorCode" not in complete
    log = base64.b64decode(complete["LogResult"]).decode()
    assert f"END RequestId: {response['ResponseMetadata']['RequestId']}" in log


def test_invoke_with_response_stream_reports_a_function_error_in_invoke_complete(
    lam: Any, handlers_uri: str
) -> None:
    name = function(lam, handlers_uri, "error", "app.error")
    response, payload, complete = streamed(lam, name, {"message": "boom"})
    assert response["StatusCode"] == 200  # errors travel in the stream, as in Lambda
    assert payload == b""
    assert complete["ErrorCode"]
    details = json.loads(complete["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("HandlerError", "boom")


def test_invoke_with_response_stream_of_a_missing_function_is_resource_not_found(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="no-such-function", Payload=b"{}")
