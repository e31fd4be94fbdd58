"""The front door on a real socket under uvicorn: AWS API requests answered directly, everything else
handed to uvicorn's protocol, with keep-alive, pipelining, 100-continue, chunked bodies and limits."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config

from lambkin.api.asgi import Receive, Scope, Send, header, read_body, respond
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.aws_regions import RegionalAws
from lambkin.api.front_door import front_door
from lambkin.api.root import Mount, RootApp, always, path_prefix
from lambkin.credentials import Credentials
from lambkin.identity.keys import Keyring
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.service import RequestContext

KEY = Credentials("AKIDFRONT", "front-secret")
ACCOUNT = "000000000000"


async def _echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the registry: answers through ASGI, so only uvicorn's protocol can serve it."""
    body = await read_body(receive)
    text = f"asgi {scope['method']} {scope['path']} {len(body)}".encode()
    await respond(send, 200, text, [(b"content-type", b"text/plain")])


async def _get_function(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return {"Configuration": {"FunctionName": params["FunctionName"], "MemorySize": 128}}


async def _invoke(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    if params.get("Payload") == b'"slow"':
        await asyncio.sleep(0.3)
    return {"StatusCode": 200, "Payload": params.get("Payload") or b"", "ExecutedVersion": "$LATEST"}


async def _delete_alias(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    return {}


class _Server:
    def __init__(self) -> None:
        services: dict[str, Any] = {
            "lambda": {"GetFunction": _get_function, "Invoke": _invoke, "DeleteAlias": _delete_alias}
        }
        gateway = _alone(AwsGateway(services, ACCOUNT, Keyring(KEY, ACCOUNT)))
        root = RootApp(
            [
                Mount("registry", path_prefix("/v2"), _echo_app),
                Mount("by-host", lambda scope: header(scope, b"host") == "urls.localhost", _echo_app),
                Mount("aws", always, gateway),
            ]
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            root,
            http=front_door(root, gateway),
            lifespan="off",
            log_level="warning",
            timeout_keep_alive=5,  # type: ignore[arg-type]
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve([self.sock])), daemon=True
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def lam(self) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id=KEY.access_key_id,
            aws_secret_access_key=KEY.secret_access_key,
            config=Config(retries={"max_attempts": 0}),
        )

    def connect(self) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return conn


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with _Server() as running:
        yield running


def _read_responses(conn: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` complete HTTP responses (Content-Length or chunked), parsed by hand."""
    buffer = b""
    answers = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            data = conn.recv(65536)
            if not data:
                raise ConnectionError(f"closed after {len(answers)} answers: {buffer!r}")
            buffer += data
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if status == 100:
            answers.append((status, headers, b""))
            continue
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            buffer += conn.recv(65536)
        answers.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return answers


def _signed(port: int, method: str, path: str, body: bytes = b"") -> bytes:
    """The bytes of a SigV4-signed Lambda request, as botocore would send them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    request = AWSRequest(method, f"http://127.0.0.1:{port}{path}", data=body)
    SigV4Auth(BotoCredentials(KEY.access_key_id, KEY.secret_access_key), "lambda", "us-east-1").add_auth(
        request
    )
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    return (head + "\r\n").encode() + body


def _signed_get_function(port: int, name: str) -> bytes:
    return _signed(port, "GET", f"/2015-03-31/functions/{name}")


def test_boto3_calls_are_answered_on_one_kept_alive_connection(server: _Server) -> None:
    lam = server.lam()
    for name in ("a", "b", "c"):
        answer = lam.get_function(FunctionName=name)
        assert answer["Configuration"]["FunctionName"] == name
        assert answer["ResponseMetadata"]["RequestId"]
    invoked = lam.invoke(FunctionName="a", Payload=b'{"x": 1}')
    assert invoked["Payload"].read() == b'{"x": 1}'
    assert invoked["ExecutedVersion"] == "$LATEST"


def test_errors_are_aws_shaped(server: _Server) -> None:
    lam = server.lam()
    with pytest.raises(lam.exceptions.ClientError) as missing:
        lam.list_functions()  # the gateway has no handler for it
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
    forged = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{server.port}",
        region_name="us-east-1",
        aws_access_key_id=KEY.access_key_id,
        aws_secret_access_key="wrong",
        config=Config(retries={"max_attempts": 0}),
    )
    with pytest.raises(forged.exceptions.ClientError) as denied:
        forged.get_function(FunctionName="a")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_too_large_invoke_gets_the_operations_error(server: _Server) -> None:
    with pytest.raises(server.lam().exceptions.ClientError) as too_large:
        server.lam().invoke(FunctionName="a", Payload=b'"' + b"x" * 6_291_500 + b'"')
    assert too_large.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert too_large.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_another_surface_is_handed_to_uvicorn_and_keeps_the_connection(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(b"POST /v2/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
        conn.sendall(b"GET /v2/y HTTP/1.1\r\nHost: h\r\n\r\n")
        first, second = _read_responses(conn, 2)
    assert first[0] == 200 and first[2] == b"asgi POST /v2/x 3"
    assert second[0] == 200 and second[2] == b"asgi GET /v2/y 0"


def test_a_connection_switches_surface_between_requests(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(_signed_get_function(server.port, "first"))
        ((status, headers, body),) = _read_responses(conn, 1)
        assert status == 200 and b'"first"' in body and headers["x-amzn-requestid"]
        conn.sendall(b"GET /v2/after HTTP/1.1\r\nHost: h\r\n\r\n")
        ((status, _, body),) = _read_responses(conn, 1)
        assert (status, body) == (200, b"asgi GET /v2/after 0")


def test_the_same_path_on_another_host_goes_to_that_hosts_surface(server: _Server) -> None:
    with server.connect() as conn:
        for _ in range(2):
            conn.sendall(_signed_get_function(server.port, "first"))
            ((status, _, body),) = _read_responses(conn, 1)
            assert status == 200 and b'"first"' in body
        conn.sendall(b"GET /2015-03-31/functions/first HTTP/1.1\r\nHost: urls.localhost\r\n\r\n")
        ((status, _, body),) = _read_responses(conn, 1)
        assert (status, body) == (200, b"asgi GET /2015-03-31/functions/first 0")


def test_pipelined_requests_are_answered_in_order(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(b"".join(_signed_get_function(server.port, name) for name in ("p1", "p2", "p3")))
        answers = _read_responses(conn, 3)
    assert [a[0] for a in answers] == [200, 200, 200]
    assert [b'"p1"' in a[2] for a in answers] == [True, False, False]
    assert b'"p3"' in answers[2][2]


def test_a_head_split_across_reads_is_parsed(server: _Server) -> None:
    request = _signed_get_function(server.port, "split")
    with server.connect() as conn:
        for start in range(0, len(request), 7):
            conn.sendall(request[start : start + 7])
            time.sleep(0.001)
        ((status, _, body),) = _read_responses(conn, 1)
    assert status == 200 and b'"split"' in body


def test_expect_100_continue_and_a_chunked_body(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(
            b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\n"
            b"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        ((status, _, _),) = _read_responses(conn, 1)
        assert status == 100
        conn.sendall(b"3\r\n{}\n\r\n0\r\n\r\n")
        ((status, headers, body),) = _read_responses(conn, 1)
    # unsigned: the gateway read the whole chunked body, then refused the missing signature
    assert status == 403 and headers["x-amzn-requestid"] and b"Missing Authentication Token" in body


def test_garbage_gets_400_and_the_connection_closes(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        data = conn.recv(65536)
        assert data.startswith(b"HTTP/1.1 400")
        assert conn.recv(65536) == b""


def test_connection_close_is_honoured(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(
            _signed_get_function(server.port, "bye").replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        )
        ((status, headers, _),) = _read_responses(conn, 1)
        assert status == 200 and headers["connection"] == "close"
        assert conn.recv(65536) == b""


def test_a_hand_over_waits_for_the_answer_in_flight(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(_signed(server.port, "POST", "/2015-03-31/functions/f/invocations", b'"slow"'))
        time.sleep(0.05)  # the invoke is being answered when the registry request arrives
        conn.sendall(b"GET /v2/later HTTP/1.1\r\nHost: h\r\n\r\n")
        (invoked, handed) = _read_responses(conn, 2)
    assert invoked[0] == 200 and invoked[2] == b'"slow"'
    assert handed[0] == 200 and handed[2] == b"asgi GET /v2/later 0"


def test_another_surface_pipelined_in_the_same_read_is_refused(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(_signed_get_function(server.port, "first") + b"GET /v2/x HTTP/1.1\r\nHost: h\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 400 Bad Request" in data


def test_a_204_has_no_body_nor_length_and_the_connection_goes_on(server: _Server) -> None:
    with server.connect() as conn:
        conn.sendall(_signed(server.port, "DELETE", "/2015-03-31/functions/f/aliases/gone"))
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
        assert head.startswith(b"HTTP/1.1 204") and b"content-length" not in head.lower()
        assert head.endswith(b"\r\n\r\n")  # nothing after the head
        conn.sendall(_signed_get_function(server.port, "after"))
        ((status, _, body),) = _read_responses(conn, 1)
    assert status == 200 and b'"after"' in body


class _Transport:
    """Just enough of an asyncio transport to drive a FrontDoor in-process."""

    def __init__(self) -> None:
        self.written = b""
        self.wrote = asyncio.Event()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data
        self.wrote.set()

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return False  # a refusal closes at once

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


async def test_a_quick_invoke_clients_next_request_is_polled_for() -> None:
    from lambkin.api.front_door import FrontDoor
    from lambkin.http11.busy_poll import BusyPoll, Trial

    gateway = _alone(
        AwsGateway(
            {"lambda": {"GetFunction": _get_function, "Invoke": _invoke}}, ACCOUNT, Keyring(KEY, ACCOUNT)
        )
    )
    root = RootApp([Mount("aws", always, gateway)])
    trial = Trial(block=1, skip=0)  # a machine where polling pays: a quick client's cycles said so
    for cycle in (0.001, 0.001, 0.0001, 0.001):  # (the first begins the trial: sleeping, polling, sleeping)
        trial.record(trial.epoch, cycle)
    assert trial.polling_pays
    poll = BusyPoll(cap_s=5.0, yield_core=lambda: None, trial=trial)  # a core nobody else wants
    door = FrontDoor(root, gateway, lambda: None, set(), set(), 75.0, poll)  # type: ignore[arg-type,return-value]
    transport = _Transport()
    door.connection_made(transport)  # type: ignore[arg-type]
    invoke = _signed(9000, "POST", "/2015-03-31/functions/f/invocations", b'"x"')

    async def answered(count: int) -> None:
        while transport.written.count(b"HTTP/1.1 200") < count:
            transport.wrote.clear()
            await transport.wrote.wait()

    door.data_received(invoke)
    await answered(1)
    assert not poll.polling  # no gap measured yet: nothing to expect
    door.data_received(invoke)  # right after the answer: a quick client
    await answered(2)
    assert poll.polling  # the loop now polls for its next request instead of sleeping
    door.data_received(_signed_get_function(9000, "three"))
    await answered(3)
    await asyncio.sleep(0.01)
    assert not poll.polling  # after a control-plane call the loop may sleep: no latency is waiting on it
    door.connection_lost(None)


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout() -> None:
    from lambkin.api.front_door import FrontDoor

    gateway = _alone(AwsGateway({"lambda": {"GetFunction": _get_function}}, ACCOUNT, Keyring(KEY, ACCOUNT)))
    root = RootApp([Mount("aws", always, gateway)])
    door = FrontDoor(root, gateway, lambda: None, set(), set(), 0.2)  # type: ignore[arg-type,return-value]
    transport = _Transport()
    door.connection_made(transport)  # type: ignore[arg-type]
    await asyncio.sleep(0.15)
    door.data_received(_signed_get_function(9000, "busy"))  # activity pushes the timeout back
    await asyncio.sleep(0.15)
    assert not transport.closed and b"HTTP/1.1 200" in transport.written
    await asyncio.sleep(0.2)
    assert transport.closed


def _alone(gateway: AwsGateway) -> RegionalAws:
    """The AWS APIs of one region, as the server serves them."""
    return RegionalAws({gateway.region: AwsAsgi(gateway)}, gateway.region)
