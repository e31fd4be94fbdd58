"""Runtime API conformance: endpoints, headers, status codes and exact error bodies, driven by a fake runtime."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest

from lambkin.environments.lifecycle import RuntimeState
from lambkin.environments.results import MAX_RESPONSE_BYTES, FunctionError, Success
from lambkin.environments.runtime_api import Event, RuntimeApi
from lambkin.loop_cpu import CoreWait
from lambkin.testing.runtime import RuntimeClient


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RuntimeApi, RuntimeClient]]:
    prompt = getattr(request, "param", None)  # a test may say whether the loop's core is prompt
    core = None
    if prompt is not None:
        core = CoreWait()
        core.prompt = prompt
    api = RuntimeApi(core)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = await asyncio.get_running_loop().create_server(api.protocol, sock=sock)
    host, port = sock.getsockname()
    client = await RuntimeClient(f"{host}:{port}").connect()
    yield api, client
    await client.close()
    api.close()
    server.close()


def event(request_id: str = "req-1", **extra: str) -> Event:
    return Event(
        request_id=request_id,
        payload=b'{"hello": "world"}',
        deadline_ms=1_700_000_000_000,
        invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn",
        **extra,
    )


async def test_next_blocks_until_an_event_then_carries_its_headers(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    assert not pending.done()
    outcome = api.submit(event(trace_id="Root=1-abc", client_context='{"custom":{"a":"b"}}'))
    reply = await pending
    assert reply.status == 200
    assert reply.body == b'{"hello": "world"}'
    assert reply.headers["lambda-runtime-aws-request-id"] == "req-1"
    assert reply.headers["lambda-runtime-deadline-ms"] == "1700000000000"
    assert reply.headers["lambda-runtime-invoked-function-arn"].endswith(":function:fn")
    assert reply.headers["lambda-runtime-trace-id"] == "Root=1-abc"
    assert reply.headers["lambda-runtime-client-context"] == '{"custom":{"a":"b"}}'
    assert "lambda-runtime-cognito-identity" not in reply.headers  # empty headers are omitted
    assert reply.headers["content-type"] == "application/json"
    answer = await client.respond("req-1", b'"done"', {"Content-Type": "text/plain"})
    assert answer.status == 202
    assert answer.json() == {"status": "OK"}
    assert await outcome == Success(b'"done"', "text/plain")


async def test_event_submitted_before_next_is_delivered_when_the_runtime_asks(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    api.state = RuntimeState.RESPONSE_SENT  # as after a previous invocation
    outcome = api.submit(event())
    reply = await client.next()
    assert reply.headers["lambda-runtime-aws-request-id"] == "req-1"
    await client.respond("req-1", b"{}")
    assert isinstance(await outcome, Success)


async def test_unknown_request_id_is_rejected_before_any_state_change(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    reply = await client.respond("someone-else", b"{}")
    assert reply.status == 400
    assert reply.json() == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
    assert api.state is RuntimeState.RUNNING
    assert (await client.respond("req-1", b"{}")).status == 202
    assert isinstance(await outcome, Success)


async def test_response_before_any_event_is_an_invalid_request_id(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    _, client = served
    reply = await client.respond("req-1", b"{}")
    assert reply.status == 400
    assert reply.json()["errorType"] == "InvalidRequestID"


async def test_second_response_is_an_invalid_state_transition(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    api.submit(event())
    await pending
    assert (await client.respond("req-1", b"{}")).status == 202
    reply = await client.respond("req-1", b"{}")
    assert reply.status == 403
    assert reply.json() == {
        "errorMessage": "State transition from RuntimeResponseSentState to InvocationResponse failed for "
        "runtime. Error: State transition is not allowed",
        "errorType": "InvalidStateTransition",
    }


async def test_error_reports_a_function_error_with_a_validated_type(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    body = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": [], "errorCause": {"x": 1}}
    reply = await client.error(
        "req-1",
        json.dumps(body).encode(),
        {
            "Lambda-Runtime-Function-Error-Type": "Function.MyError",
            "Content-Type": "application/vnd.aws.lambda.error.cause+json",
        },
    )
    assert reply.status == 202
    result = await outcome
    assert isinstance(result, FunctionError)
    assert result.error_type == "Function.MyError"
    assert json.loads(result.payload) == {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "Runtime.Unknown"),
        ("Runtime.Bad", "Runtime.Bad"),
        ("Function.x", "Function.Unknown"),
        ("x", "Runtime.Unknown"),
    ],
)
async def test_error_type_header_rules(
    served: tuple[RuntimeApi, RuntimeClient], header: str | None, expected: str
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    headers = {"Lambda-Runtime-Function-Error-Type": header} if header else {}
    await client.error("req-1", b'{"errorMessage":"m","errorType":"E"}', headers)
    result = await outcome
    assert isinstance(result, FunctionError)
    assert result.error_type == expected


async def test_oversized_response_is_413_and_the_caller_gets_response_size_too_large(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    size = MAX_RESPONSE_BYTES + 1
    reply = await client.respond("req-1", b"x" * size)
    assert reply.status == 413
    assert reply.json() == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    result = await outcome
    assert isinstance(result, FunctionError)
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(result.payload)["errorMessage"] == (
        f"Response payload size ({size} bytes) exceeded maximum allowed payload size (6291556 bytes)."
    )


async def test_response_of_exactly_the_limit_is_accepted(served: tuple[RuntimeApi, RuntimeClient]) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    assert (await client.respond("req-1", b"x" * MAX_RESPONSE_BYTES)).status == 202
    result = await outcome
    assert isinstance(result, Success)
    assert len(result.payload) == MAX_RESPONSE_BYTES


async def test_init_error_fails_init_and_then_next_is_refused(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    body = b'{"errorMessage":"Unable to import module","errorType":"Runtime.ImportModuleError"}'
    reply = await client.init_error(body, {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    assert reply.status == 202
    failure = await api.init_failed
    assert failure.error_type == "Runtime.ImportModuleError"
    assert failure.payload == body
    refused = await client.next()
    assert refused.status == 403
    assert refused.json()["errorMessage"].startswith("State transition from InitError to Ready failed")


async def test_init_error_after_init_is_refused(served: tuple[RuntimeApi, RuntimeClient]) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    api.submit(event())
    await pending
    reply = await client.init_error(b"{}")
    assert reply.status == 403
    assert reply.json()["errorType"] == "InvalidStateTransition"


async def test_logs_and_telemetry_apis_answer_as_the_emulator(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    _, client = served
    logs = await client.request("PUT", "/2020-08-15/logs", b"{}")
    assert (logs.status, logs.json()) == (
        202,
        {"errorMessage": "Logs API is not supported", "errorType": "Logs.NotSupported"},
    )
    telemetry = await client.request("PUT", "/2022-07-01/telemetry", b"{}")
    assert (telemetry.status, telemetry.json()) == (
        202,
        {"errorMessage": "Telemetry API is not supported", "errorType": "Telemetry.NotSupported"},
    )
    register = await client.request("POST", "/2020-01-01/extension/register", b'{"events":[]}')
    assert register.status == 404


async def test_many_invocations_on_one_keep_alive_connection(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    for i in range(5):
        pending = asyncio.ensure_future(client.next())
        if i == 0:
            await api.ready
        outcome = api.submit(event(f"req-{i}"))
        reply = await pending
        assert reply.headers["lambda-runtime-aws-request-id"] == f"req-{i}"
        assert (await client.respond(f"req-{i}", str(i).encode())).status == 202
        assert await outcome == Success(str(i).encode())


async def cut_response(client: RuntimeClient, request_id: str) -> None:
    """Announces a 100-byte /response, sends 12 bytes of it, and hangs up."""
    host, port = client.address.rsplit(":", 1)
    _, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
    )
    writer.write(head.encode() + b'{"partial": ')
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_a_response_cut_short_is_a_truncated_response_at_once(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    await cut_response(client, "req-1")
    failed = await outcome
    assert isinstance(failed, FunctionError)
    assert failed.error_type == "Runtime.TruncatedResponse"
    assert json.loads(failed.payload) == {
        "errorType": "Runtime.TruncatedResponse",
        "errorMessage": "RequestId: req-1 Error: HTTP request detected as truncated",
    }
    # the runtime goes on: its next /next takes the next event
    pending = asyncio.ensure_future(client.next())
    outcome = api.submit(event("req-2"))
    assert (await pending).headers["lambda-runtime-aws-request-id"] == "req-2"
    assert (await client.respond("req-2", b"{}")).status == 202
    assert await outcome == Success(b"{}")


async def test_a_cut_response_of_another_request_changes_nothing(
    served: tuple[RuntimeApi, RuntimeClient],
) -> None:
    api, client = served
    pending = asyncio.ensure_future(client.next())
    await api.ready
    outcome = api.submit(event())
    await pending
    await cut_response(client, "req-other")
    assert (await client.respond("req-1", b"{}")).status == 202
    assert await outcome == Success(b"{}")


@pytest.mark.parametrize("served", [True, False], ids=["prompt", "waiting"], indirect=True)
async def test_the_callers_answer_goes_before_the_202_while_the_loop_has_its_core(
    served: tuple[RuntimeApi, RuntimeClient], request: pytest.FixtureRequest
) -> None:
    """The caller, woken by the runtime's answer, runs before the runtime's 202 is written while the loop's
    core is prompt; while the loop waits for its core, the 202 is written first (runtime_api._accept)."""
    api, client = served
    host, port = client.address.rsplit(":", 1)
    runtime = socket.create_connection((host, int(port)))
    try:
        pending = asyncio.ensure_future(client.next())
        await api.ready
        outcome = api.submit(event())
        await pending

        async def caller() -> bytes:
            await outcome  # woken by the runtime's answer: what has the runtime been sent by now?
            try:
                return runtime.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                return b""

        answered = asyncio.ensure_future(caller())
        await asyncio.sleep(0)
        runtime.sendall(
            b"POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\n"
            b"Host: runtime\r\nContent-Length: 2\r\n\r\n{}"
        )
        seen_by_then = await answered
        prompt = request.node.callspec.params["served"]
        assert seen_by_then.startswith(b"HTTP/1.1 202") is not prompt
        runtime.settimeout(5)
        assert runtime.recv(4096).startswith(b"HTTP/1.1 202")  # sent either way
    finally:
        runtime.close()
