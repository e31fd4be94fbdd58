"""A networked sandbox reaches the outside world only: not the host's addresses (its own gateway included),
not another sandbox, not link-local addresses (the metadata address among them), not the host's loopback;
and nothing outside can connect into a sandbox. Only the tests' own namespaces are ever contacted."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from lambkin.sandbox import syscalls
from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages
from tests.world import NEEDS_TOOLS, World, links_of, world, world_server

pytestmark = [pytest.mark.runc, NEEDS_TOOLS]


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("world")) as made:
        yield made


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory, outside: World) -> Iterator[LambkinServer]:
    server = world_server(tmp_path_factory.mktemp("lambkin"), outside)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lam(online: LambkinServer, test_images: BuiltImages) -> Any:
    client = online.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    uri = test_images.push("python-handlers", online.registry, tag="v1")
    for name in ("prober", "target"):
        create_active(client, name, uri, ImageConfig={"Command": ["app.network"]}, Timeout=15)
    return client


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP listener on every address of the host, on a free port: what a sandbox must not reach."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _connects(lam: Any, name: str, host: str, port: int) -> dict[str, Any]:
    response = lam.invoke(
        FunctionName=name, Payload=json.dumps({"host": host, "port": port, "timeout": 2}).encode()
    )
    body: dict[str, Any] = json.loads(response["Payload"].read())
    return body


def test_the_world_is_reachable(lam: Any, outside: World) -> None:
    """The other tests' refusals mean something: the same function does reach the outside."""
    reached = _connects(lam, "prober", outside.address, 80)
    assert reached["connected"] is True, reached


def test_no_address_of_the_host_is_reachable(
    lam: Any, online: LambkinServer, outside: World, host_listener: int
) -> None:
    _connects(lam, "prober", outside.address, 80)  # a warm sandbox: its link is among the instance's
    gateways = [address for address in links_of(online.data_dir).values() if address]
    assert gateways
    assert outside.can_connect(outside.host_address, host_listener)  # the listener is there
    for address in [outside.host_address, *gateways]:
        outcome = _connects(lam, "prober", address, host_listener)
        assert outcome["connected"] is False, (address, outcome)


def test_neither_link_local_nor_the_hosts_loopback_is_reachable(
    lam: Any, online: LambkinServer, host_listener: int
) -> None:
    assert _connects(lam, "prober", "169.254.169.254", 80)["connected"] is False
    # lambkin listens on the host's 127.0.0.1: the sandbox's 127.0.0.1 is its own loopback.
    assert _connects(lam, "prober", "127.0.0.1", online.port)["connected"] is False
    assert _connects(lam, "prober", "127.0.0.1", host_listener)["connected"] is False


def _listen_inside(pid: int) -> tuple[socket.socket, str]:
    """A listener on every address of the network namespace of process `pid`, and that namespace's eth0
    address: a server the sandbox runs, as far as the network can tell."""
    result: list[tuple[socket.socket, str]] = []

    def work() -> None:
        from pyroute2 import IPRoute

        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            syscalls.setns(target, syscalls.CLONE_NEWNET)
            try:
                sock = socket.socket()
                sock.bind(("0.0.0.0", 0))
                sock.listen()
                with IPRoute() as inside:
                    (address,) = [a.get_attr("IFA_ADDRESS") for a in inside.get_addr(label="eth0", family=2)]
                result.append((sock, address))
            finally:
                syscalls.setns(original, syscalls.CLONE_NEWNET)
        finally:
            os.close(original)
            os.close(target)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result[0]


def _connect_inside(pid: int, address: str, port: int) -> bool:
    outcome: list[bool] = []

    def work() -> None:
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            syscalls.setns(target, syscalls.CLONE_NEWNET)
            try:
                sock = socket.socket()
            finally:
                syscalls.setns(original, syscalls.CLONE_NEWNET)
        finally:
            os.close(original)
            os.close(target)
        with sock:
            sock.settimeout(2)
            try:
                sock.connect((address, port))
                outcome.append(True)
            except OSError:
                outcome.append(False)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return outcome[0]


def test_a_sandbox_is_reachable_neither_from_another_nor_from_outside(
    lam: Any, online: LambkinServer, outside: World
) -> None:
    before = (
        set((online.data_dir / "sandboxes").iterdir()) if (online.data_dir / "sandboxes").exists() else set()
    )
    assert _connects(lam, "target", outside.address, 80)["connected"] is True
    (target,) = set((online.data_dir / "sandboxes").iterdir()) - before
    pid = int((target / "pid").read_text())
    listener, address = _listen_inside(pid)
    with listener:
        port = listener.getsockname()[1]
        assert _connect_inside(pid, address, port)  # the target's server is there
        outcome = _connects(lam, "prober", address, port)
        assert outcome["connected"] is False, outcome
        assert not outside.can_connect(address, port)
