"""A VPC function's sandbox reaches what its security groups allow and nothing else: with a group allowing one
TCP port of the tests' outside world, that port and not another of the same address; a function outside a
VPC reaches both; DNS keeps working; a detached function gets the default egress back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import LambkinServer
from tests.images import BuiltImages
from tests.world import (
    NEEDS_TOOLS,
    PAGE,
    WORLD_NAME,
    World,
    instance_of,
    network_functions,
    vpc_world_server,
    world,
)

pytestmark = [pytest.mark.runc, NEEDS_TOOLS]

OTHER_PORT = 8080
WEB_ONLY = {"SubnetIds": ["subnet-0web"], "SecurityGroupIds": ["sg-0web"]}


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world, with a second HTTP server on OTHER_PORT of the same address."""
    directory = tmp_path_factory.mktemp("world")
    with world(directory) as made:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        other = made.run(
            sys.executable,
            "-m",
            "http.server",
            str(OTHER_PORT),
            "--bind",
            made.address,
            "--directory",
            str(directory),
            **quiet,
        )
        try:
            deadline = time.monotonic() + 30
            while not made.can_connect(made.address, OTHER_PORT):
                assert time.monotonic() < deadline, "the world's second server did not come up"
            yield made
        finally:
            other.terminate()
            other.wait(timeout=10)


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory, outside: World) -> Iterator[LambkinServer]:
    web = {
        "IpProtocol": "tcp",
        "FromPort": 80,
        "ToPort": 80,
        "IpRanges": [{"CidrIp": f"{outside.address}/32"}],
    }
    directory = tmp_path_factory.mktemp("lambkin")
    server = vpc_world_server(
        directory, outside, "vpc-0test", ("subnet-0web", "10.77.1.0/24"), "sg-0web", [web]
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lam(online: LambkinServer, test_images: BuiltImages) -> Any:
    vpc = {"VpcConfig": WEB_ONLY}
    return network_functions(online, test_images, {"in-vpc": vpc, "outside-vpc": {}, "leaving-vpc": vpc})


def _fetch(lam: Any, name: str, host: str, port: int) -> dict[str, Any]:
    event = {"host": host, "port": port, "timeout": 2, "send": f"GET {PAGE} HTTP/1.0\r\nHost: {host}\r\n\r\n"}
    body: dict[str, Any] = json.loads(
        lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())["Payload"].read()
    )
    return body


def test_a_vpc_function_reaches_the_allowed_port_and_not_another(lam: Any, outside: World) -> None:
    allowed = _fetch(lam, "in-vpc", outside.address, 80)
    assert allowed["connected"] is True, allowed
    assert allowed["received"].startswith("HTTP/1.0 200 OK"), allowed
    other = _fetch(lam, "in-vpc", outside.address, OTHER_PORT)
    assert other["connected"] is False, other


def test_a_vpc_function_still_resolves_names(lam: Any) -> None:
    by_name = _fetch(lam, "in-vpc", WORLD_NAME, 80)
    assert by_name["connected"] is True, by_name


def test_a_function_outside_a_vpc_reaches_both_ports(lam: Any, outside: World) -> None:
    assert _fetch(lam, "outside-vpc", outside.address, 80)["connected"] is True
    assert _fetch(lam, "outside-vpc", outside.address, OTHER_PORT)["connected"] is True


def _egress_entries(server: LambkinServer) -> int:
    """How many sandboxes the instance's table holds VPC egress rules for."""
    table = f"lambkin_{instance_of(server.data_dir)}"
    done = subprocess.run(
        ["nft", "-j", "list", "map", "inet", table, "egress"], capture_output=True, text=True, check=True
    )
    (found,) = [item["map"] for item in json.loads(done.stdout)["nftables"] if "map" in item]
    return len(found.get("elem", []))


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_detached_function_gets_the_default_egress_back(
    lam: Any, outside: World, online: LambkinServer
) -> None:
    assert _fetch(lam, "leaving-vpc", outside.address, OTHER_PORT)["connected"] is False
    with_it = _egress_entries(online)
    assert with_it >= 1
    lam.update_function_configuration(
        FunctionName="leaving-vpc", VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="leaving-vpc", WaiterConfig={"Delay": 0.2})
    assert _fetch(lam, "leaving-vpc", outside.address, OTHER_PORT)["connected"] is True
    # Its VPC sandbox is gone with the old configuration, and its entry with it.
    _until(lambda: _egress_entries(online) == with_it - 1, "the old sandbox's egress entry was not removed")
    lam.update_function_configuration(FunctionName="leaving-vpc", VpcConfig=WEB_ONLY)
    lam.get_waiter("function_updated_v2").wait(FunctionName="leaving-vpc", WaiterConfig={"Delay": 0.2})
    assert _fetch(lam, "leaving-vpc", outside.address, OTHER_PORT)["connected"] is False
