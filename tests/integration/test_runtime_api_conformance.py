"""One Runtime API conformance suite, run against lambkin's Runtime API and against aws-lambda-rie.

The test plays the runtime over plain HTTP/1.1 (http.client, one keep-alive connection), exactly as a
runtime client would; the target delivers events. Status codes and error bodies must be the same on both.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import json
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import pytest

from lambkin.environments.runtime_api import Event, RuntimeApi
from tests.harness import free_port
from tests.images import rie_path


class Target(Protocol):
    address: tuple[str, int]

    def invoke(self, payload: bytes) -> Future[bytes]: ...


class Lambkin:
    """lambkin's RuntimeApi on a loopback socket, its event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        self.address = sock.getsockname()

        self.made: list[asyncio.BaseProtocol] = []

        async def serve() -> RuntimeApi:
            api = RuntimeApi()

            def protocol() -> asyncio.BaseProtocol:
                self.made.append(api.protocol())
                return self.made[-1]

            self.server = await asyncio.get_running_loop().create_server(protocol, sock=sock)
            return api

        self.api = asyncio.run_coroutine_threadsafe(serve(), self.loop).result()
        self.count = 0

    def invoke(self, payload: bytes) -> Future[bytes]:
        self.count += 1
        event = Event(f"lambkin-req-{self.count}", payload, int(time.time() * 1000) + 3000, "arn:fn")

        async def run() -> bytes:
            outcome = await self.api.submit(event)
            return outcome.payload

        return asyncio.run_coroutine_threadsafe(run(), self.loop)

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            self.api.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        for made in self.made:  # however far its accept had got
            made.abort()  # type: ignore[attr-defined]
        self.loop.run_until_complete(asyncio.sleep(0.02))
        self.loop.close()
        # A connection the emulator-style raw clients opened as the loop stopped can still be half-made in
        # it; collected now, quietly, it is not reported as leaked by whichever test runs next.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


class Rie:
    """aws-lambda-rie on free ports, with `sleep` as the bootstrap: the test is the runtime."""

    def __init__(self) -> None:
        api_port, front_port = free_port(), free_port()
        self.address = ("127.0.0.1", api_port)
        self.front = front_port
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [
                str(rie_path()),
                "--runtime-api-address",
                f"127.0.0.1:{api_port}",
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{front_port}",
                "/bin/sleep",
                "3600",
            ],
            stdout=self.log,  # (with DEVNULL the emulator never hands out the event)
            stderr=subprocess.STDOUT,
        )
        self.pool = ThreadPoolExecutor(2)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", front_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def invoke(self, payload: bytes) -> Future[bytes]:
        def post() -> bytes:
            conn = http.client.HTTPConnection("127.0.0.1", self.front, timeout=30)
            try:
                conn.request("POST", "/2015-03-31/functions/function/invocations", payload)
                return conn.getresponse().read()
            finally:
                conn.close()

        return self.pool.submit(post)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()
        self.pool.shutdown(wait=False)


@pytest.fixture(params=["lambkin", "rie"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    made: Lambkin | Rie = Lambkin() if request.param == "lambkin" else Rie()
    try:
        yield made
    finally:
        while _OPEN:
            _OPEN.pop().close()
        while _RAW:
            _RAW.pop().close()
        made.close()


_OPEN: list[http.client.HTTPConnection] = []


class Runtime:
    """The runtime's side: one keep-alive connection to the Runtime API.

    The emulator opens its Runtime API only once init begins: until then the first request is retried.
    """

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self._connect()

    def _connect(self) -> None:
        address = self.address
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(address, timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.conn = http.client.HTTPConnection(*address, timeout=30)
        self.conn.sock = sock
        _OPEN.append(self.conn)

    def first(self, path: str) -> Any:
        for _ in range(200):
            try:
                return self.call("GET", path)
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()
                time.sleep(0.05)
                self._connect()
        raise AssertionError("the Runtime API never answered")

    def call(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        self.conn.request(method, "/2018-06-01" + path, body, headers or {})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data


def answer(target: Target, future: Future[bytes]) -> bytes:
    """The caller's answer. The emulator only answers once the runtime asks for its next event, so ask
    (on a raw connection whose reply nobody waits for)."""
    ask = socket.create_connection(target.address)
    _RAW.append(ask)
    ask.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n")
    return future.result(10)


_RAW: list[socket.socket] = []


def first_event(target: Target, payload: bytes = b'{"x": 1}') -> tuple[Runtime, str, Future[bytes]]:
    pending = target.invoke(payload)
    runtime = Runtime(target.address)
    status, headers, body = runtime.first("/runtime/invocation/next")
    assert status == 200
    assert body == payload
    return runtime, headers["Lambda-Runtime-Aws-Request-Id"], pending


def test_next_carries_the_event_and_its_headers(target: Target) -> None:
    pending = target.invoke(b'{"x": 1}')
    runtime = Runtime(target.address)
    status, headers, body = runtime.first("/runtime/invocation/next")
    assert status == 200 and body == b'{"x": 1}'
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000
    assert headers["Lambda-Runtime-Invoked-Function-Arn"]
    assert headers["Content-Type"] == "application/json"
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    status, _, body = runtime.call("POST", f"/runtime/invocation/{request_id}/response", b'"ok"')
    assert (status, json.loads(body)) == (202, {"status": "OK"})
    assert answer(target, pending) == b'"ok"'


def test_unknown_request_id(target: Target) -> None:
    runtime, request_id, pending = first_event(target)
    status, _, body = runtime.call("POST", "/runtime/invocation/not-the-id/response", b"{}")
    assert (status, json.loads(body)) == (
        400,
        {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"},
    )
    assert runtime.call("POST", f"/runtime/invocation/{request_id}/response", b"{}")[0] == 202
    answer(target, pending)


def test_second_response_is_an_invalid_state_transition(target: Target) -> None:
    runtime, request_id, pending = first_event(target)
    assert runtime.call("POST", f"/runtime/invocation/{request_id}/response", b"{}")[0] == 202
    answer(target, pending)
    status, _, body = runtime.call("POST", f"/runtime/invocation/{request_id}/response", b"{}")
    assert status in (400, 403)
    error = json.loads(body)
    if status == 403:
        assert error["errorType"] == "InvalidStateTransition"
        assert error["errorMessage"].startswith("State transition from ")
    else:
        assert error["errorType"] == "InvalidRequestID"


def test_error_is_accepted_and_reaches_the_caller(target: Target) -> None:
    runtime, request_id, pending = first_event(target)
    error = b'{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}'
    status, _, body = runtime.call(
        "POST",
        f"/runtime/invocation/{request_id}/error",
        error,
        {"Lambda-Runtime-Function-Error-Type": "Function.ValueError"},
    )
    assert (status, json.loads(body)) == (202, {"status": "OK"})
    assert json.loads(answer(target, pending))["errorMessage"] == "boom"


def test_oversized_response(target: Target) -> None:
    runtime, request_id, pending = first_event(target)
    status, _, body = runtime.call("POST", f"/runtime/invocation/{request_id}/response", b"x" * (6291556 + 1))
    assert status == 413
    assert json.loads(body) == {
        "errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "RequestEntityTooLarge",
    }
    assert b"Function.ResponseSizeTooLarge" in answer(target, pending)
