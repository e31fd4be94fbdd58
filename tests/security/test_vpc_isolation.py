"""A security group allowing everything (-1 to 0.0.0.0/0) widens nothing: a VPC function's sandbox still reaches
neither the host's addresses, nor another sandbox, nor 169.254.169.254, while it does reach the outside world;
it has no IPv6 egress (the groups' rules are IPv4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import LambkinServer
from tests.images import BuiltImages
from tests.security.test_network_isolation import _connect_inside, _listen_inside
from tests.world import (
    NEEDS_TOOLS,
    World,
    connects,
    links_of,
    listening_on_host,
    network_functions,
    vpc_world_server,
    world,
)

pytestmark = [pytest.mark.runc, NEEDS_TOOLS]

EVERYTHING = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("world")) as made:
        yield made


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory, outside: World) -> Iterator[LambkinServer]:
    directory = tmp_path_factory.mktemp("lambkin")
    server = vpc_world_server(
        directory, outside, "vpc-0open", ("subnet-0open", "10.88.1.0/24"), "sg-0open", [EVERYTHING]
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lam(online: LambkinServer, test_images: BuiltImages) -> Any:
    vpc = {"SubnetIds": ["subnet-0open"], "SecurityGroupIds": ["sg-0open"]}
    return network_functions(online, test_images, {"open-vpc": {"VpcConfig": vpc}, "target": {}})


@pytest.fixture
def host_listener() -> Iterator[int]:
    with listening_on_host() as port:
        yield port


def test_the_open_group_does_reach_the_world(lam: Any, outside: World) -> None:
    reached = connects(lam, "open-vpc", outside.address, 80)
    assert reached["connected"] is True, reached


def test_no_address_of_the_host_is_reachable(
    lam: Any, online: LambkinServer, outside: World, host_listener: int
) -> None:
    connects(lam, "open-vpc", outside.address, 80)
    gateways = [address for address in links_of(online.data_dir).values() if address]
    assert gateways
    assert outside.can_connect(outside.host_address, host_listener)
    for address in [outside.host_address, *gateways]:
        outcome = connects(lam, "open-vpc", address, host_listener)
        assert outcome["connected"] is False, (address, outcome)


def test_neither_the_metadata_address_nor_the_hosts_loopback_is_reachable(
    lam: Any, online: LambkinServer
) -> None:
    assert connects(lam, "open-vpc", "169.254.169.254", 80)["connected"] is False
    assert connects(lam, "open-vpc", "127.0.0.1", online.port)["connected"] is False


def test_another_sandbox_is_not_reachable(lam: Any, online: LambkinServer, outside: World) -> None:
    sandboxes = online.data_dir / "sandboxes"
    before = set(sandboxes.iterdir()) if sandboxes.exists() else set()
    assert connects(lam, "target", outside.address, 80)["connected"] is True
    (target,) = set(sandboxes.iterdir()) - before
    pid = int((target / "pid").read_text())
    listener, address = _listen_inside(pid)
    with listener:
        port = listener.getsockname()[1]
        assert _connect_inside(pid, address, port)
        outcome = connects(lam, "open-vpc", address, port)
        assert outcome["connected"] is False, outcome


def test_a_vpc_sandbox_has_no_ipv6_egress(lam: Any, outside: World) -> None:
    """Its groups' rules are IPv4 ranges: its IPv6 meets its chain's final drop (last in this file: it warms
    "target", whose first sandbox the test above finds as the new one)."""
    _, address6 = outside.ipv6()
    assert connects(lam, "target", address6, 80)["connected"] is True  # outside a VPC, IPv6 goes out
    outcome = connects(lam, "open-vpc", address6, 80)
    assert outcome["connected"] is False, outcome
