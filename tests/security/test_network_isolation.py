"""A networked sandbox reaches the outside world only: not the host's addresses (its own gateway included),
not another sandbox, not link-local addresses (the metadata address among them), not the host's loopback;
and nothing outside can connect into a sandbox. The same over IPv6 where the host has it (its tests skip
where not). A sandbox cannot send as another (a forged source address). Only the tests' own namespaces are
ever contacted."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from lambkin.network import ipv6
from lambkin.network.policy import DEFAULT_RANGE6
from lambkin.sandbox import syscalls
from tests.harness import LambkinServer
from tests.images import BuiltImages
from tests.world import (
    NEEDS_TOOLS,
    World,
    addresses6_of,
    connects,
    links_of,
    listening_on_host,
    network_functions,
    world,
    world_server,
)

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
    return network_functions(online, test_images, {name: {} for name in ("prober", "target", "target6")})


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP listener on every address of the host, on a free port: what a sandbox must not reach."""
    with listening_on_host() as port:
        yield port


@pytest.fixture
def host_listener6(outside: World) -> Iterator[int]:
    """A TCP listener on every IPv6 address of the host (::1 and its link-local ones among them)."""
    outside.ipv6()
    with socket.socket(socket.AF_INET6) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_the_world_is_reachable(lam: Any, outside: World) -> None:
    """The other tests' refusals mean something: the same function does reach the outside."""
    reached = connects(lam, "prober", outside.address, 80)
    assert reached["connected"] is True, reached


def test_no_address_of_the_host_is_reachable(
    lam: Any, online: LambkinServer, outside: World, host_listener: int
) -> None:
    connects(lam, "prober", outside.address, 80)  # a warm sandbox: its link is among the instance's
    gateways = [address for address in links_of(online.data_dir).values() if address]
    assert gateways
    assert outside.can_connect(outside.host_address, host_listener)  # the listener is there
    for address in [outside.host_address, *gateways]:
        outcome = connects(lam, "prober", address, host_listener)
        assert outcome["connected"] is False, (address, outcome)


def test_neither_link_local_nor_the_hosts_loopback_is_reachable(
    lam: Any, online: LambkinServer, host_listener: int
) -> None:
    assert connects(lam, "prober", "169.254.169.254", 80)["connected"] is False
    # lambkin listens on the host's 127.0.0.1: the sandbox's 127.0.0.1 is its own loopback.
    assert connects(lam, "prober", "127.0.0.1", online.port)["connected"] is False
    assert connects(lam, "prober", "127.0.0.1", host_listener)["connected"] is False


def _inside(pid: int, make: Callable[[], socket.socket]) -> socket.socket:
    """A socket made by `make` in the network namespace of process `pid` (it stays there once made)."""
    made: list[socket.socket] = []

    def work() -> None:
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            syscalls.setns(target, syscalls.CLONE_NEWNET)
            try:
                made.append(make())
            finally:
                syscalls.setns(original, syscalls.CLONE_NEWNET)
        finally:
            os.close(original)
            os.close(target)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return made[0]


def _address_inside(pid: int, family: socket.AddressFamily) -> str:
    """The sandbox's own address of `family` on its eth0."""
    shown = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-j", "addr", "show", "dev", "eth0"],
        capture_output=True,
        check=True,
    ).stdout
    wanted = "inet6" if family == socket.AF_INET6 else "inet"
    (address,) = [
        entry["local"]
        for link in json.loads(shown)
        for entry in link.get("addr_info", [])
        if entry["family"] == wanted and entry.get("scope") == "global"
    ]
    return str(address)


def _listen_inside(pid: int, family: socket.AddressFamily = socket.AF_INET) -> tuple[socket.socket, str]:
    """A listener on every address of the network namespace of process `pid`, and that namespace's eth0
    address: a server the sandbox runs, as far as the network can tell."""

    def listener() -> socket.socket:
        sock = socket.socket(family)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        sock.listen()
        return sock

    return _inside(pid, listener), _address_inside(pid, family)


def _connect_inside(pid: int, address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with _inside(pid, lambda: socket.socket(family)) as sock:
        sock.settimeout(2)
        try:
            sock.connect((address, port))
        except OSError:
            return False
        return True


def _sandbox_pid(data_dir: Path, function: str) -> int:
    """The pid of the init of the (one) sandbox running `function`."""
    (pid,) = [
        int((bundle / "pid").read_text())
        for bundle in (data_dir / "sandboxes").iterdir()
        if (bundle / "pid").exists()
        and f"AWS_LAMBDA_FUNCTION_NAME={function}"
        in json.loads((bundle / "config.json").read_text())["process"]["env"]
    ]
    return pid


def test_a_sandbox_is_reachable_neither_from_another_nor_from_outside(
    lam: Any, online: LambkinServer, outside: World
) -> None:
    assert connects(lam, "target", outside.address, 80)["connected"] is True
    pid = _sandbox_pid(online.data_dir, "target")
    listener, address = _listen_inside(pid)
    with listener:
        port = listener.getsockname()[1]
        assert _connect_inside(pid, address, port)  # the target's server is there
        outcome = connects(lam, "prober", address, port)
        assert outcome["connected"] is False, outcome
        assert not outside.can_connect(address, port)


def test_the_world_is_reachable_over_ipv6(lam: Any, outside: World) -> None:
    _, address6 = outside.ipv6()
    reached = connects(lam, "prober", address6, 80)
    assert reached["connected"] is True, reached


def _host_link_locals() -> list[str]:
    """The link-local addresses of the host's own interfaces (not lambkin's links, not the tests' world's)."""
    shown = json.loads(subprocess.run(["ip", "-6", "-j", "addr"], capture_output=True, check=True).stdout)
    return [
        entry["local"]
        for link in shown
        if not link["ifname"].startswith(("lkn", "lkw", "lo"))
        for entry in link.get("addr_info", [])
        if entry.get("scope") == "link"
    ]


def test_no_ipv6_address_of_the_host_is_reachable(
    lam: Any, online: LambkinServer, outside: World, host_listener6: int
) -> None:
    host6, address6 = outside.ipv6()
    connects(lam, "prober", address6, 80)  # a warm sandbox: its link is among the instance's
    ends = addresses6_of(online.data_dir)
    gateways = [
        address for addresses in ends.values() for address in addresses if not address.startswith("fe80:")
    ]
    # The host's end of the prober's own link: the ::1 of the prober's /64; its link-local address beside it.
    prober = _address_inside(_sandbox_pid(online.data_dir, "prober"), socket.AF_INET6)
    (own_link,) = [addresses for addresses in ends.values() if str(ip_address(prober) - 1) in addresses]
    # The sandbox names a link-local address by its own interface: its one link, towards the host.
    link_locals = [f"{a}%eth0" for a in [*own_link, *_host_link_locals()] if a.startswith("fe80:")]
    assert len(link_locals) >= 2
    own = [str(address) for address in ipv6.host_addresses(DEFAULT_RANGE6)]
    assert outside.can_connect(host6, host_listener6)  # the listener is there
    for address in [host6, *own, *gateways, *link_locals]:
        outcome = connects(lam, "prober", address, host_listener6)
        assert outcome["connected"] is False, (address, outcome)
    # The sandbox's ::1 is its own loopback, never the host's.
    assert connects(lam, "prober", "::1", host_listener6)["connected"] is False


def test_a_sandbox_is_reachable_over_ipv6_neither_from_another_nor_from_outside(
    lam: Any, online: LambkinServer, outside: World
) -> None:
    _, address6 = outside.ipv6()
    assert connects(lam, "target6", address6, 80)["connected"] is True
    pid = _sandbox_pid(online.data_dir, "target6")
    listener, address = _listen_inside(pid, socket.AF_INET6)
    with listener:
        port = listener.getsockname()[1]
        assert _connect_inside(pid, address, port)  # the target's server is there
        outcome = connects(lam, "prober", address, port)
        assert outcome["connected"] is False, outcome
        assert not outside.can_connect(address, port)


_ECHO = """
import socket, sys
sock = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 7))
while True:
    data, peer = sock.recvfrom(512)
    sock.sendto(data, peer)
"""


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def test_a_sandbox_cannot_send_as_another(
    lam: Any, online: LambkinServer, outside: World, family: socket.AddressFamily
) -> None:
    """A datagram forged with another sandbox's source address would have its answer delivered there."""
    world_address = outside.ipv6()[1] if family == socket.AF_INET6 else outside.address
    for name in ("prober", "target6"):
        assert connects(lam, name, world_address, 80)["connected"] is True
    forger, victim = _sandbox_pid(online.data_dir, "prober"), _sandbox_pid(online.data_dir, "target6")
    victim_address = _address_inside(victim, family)
    echo = outside.run(sys.executable, "-c", _ECHO, world_address)
    try:

        def receiver() -> socket.socket:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.bind((victim_address, 0))
            return sock

        def forged() -> socket.socket:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            # IP(V6)_TRANSPARENT: send from an address this namespace does not have, as a forger would
            level, option = (socket.IPPROTO_IPV6, 75) if family == socket.AF_INET6 else (socket.SOL_IP, 19)
            sock.setsockopt(level, option, 1)
            return sock

        with _inside(victim, receiver) as inbox, _inside(forger, forged) as sender:
            inbox.settimeout(0.5)
            for _ in range(20):  # the echo answers the victim itself, once it is up
                inbox.sendto(b"genuine", (world_address, 7))
                with contextlib.suppress(TimeoutError):
                    if inbox.recv(512) == b"genuine":
                        break
            else:
                pytest.fail("the world's echo never answered")
            sender.bind((victim_address, inbox.getsockname()[1]))
            sender.sendto(b"forged", (world_address, 7))
            received = []
            with contextlib.suppress(TimeoutError):
                inbox.settimeout(2)
                while True:
                    received.append(inbox.recv(512))
            assert b"forged" not in received
    finally:
        echo.kill()
        echo.wait()
