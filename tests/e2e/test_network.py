"""Functions reach the outside world by name and by address (the tests' own world: tests/world.py), over
IPv6 too where the host has it; under LAMBKIN_NETWORK=none they reach nothing; a restart after kill -9 leaves
none of the old run's links, routes or rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages
from tests.world import (
    NEEDS_TOOLS,
    PAGE,
    WORLD6_NAME,
    WORLD_NAME,
    World,
    link_names_of,
    links_of,
    routes6,
    table_of,
    world,
    world_server,
)

pytestmark = [pytest.mark.runc, NEEDS_TOOLS]


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("world")) as made:
        yield made


def _server(tmp_path_factory: pytest.TempPathFactory, outside: World, **env: str) -> LambkinServer:
    return world_server(tmp_path_factory.mktemp("lambkin"), outside, **env)


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory, outside: World) -> Iterator[LambkinServer]:
    server = _server(tmp_path_factory, outside)
    try:
        yield server
    finally:
        server.stop()


def _lam(server: LambkinServer) -> Any:
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


def _fetch(lam: Any, name: str, host: str, port: int = 80) -> dict[str, Any]:
    event = {"host": host, "port": port, "timeout": 2, "send": f"GET {PAGE} HTTP/1.0\r\nHost: {host}\r\n\r\n"}
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    return body


def _network_function(server: LambkinServer, test_images: BuiltImages, name: str) -> Any:
    lam = _lam(server)
    uri = test_images.push("python-handlers", server.registry, tag="v1")
    create_active(lam, name, uri, ImageConfig={"Command": ["app.network"]}, Timeout=15)
    return lam


def test_a_function_fetches_the_world_by_address_and_by_name(
    online: LambkinServer, outside: World, test_images: BuiltImages
) -> None:
    lam = _network_function(online, test_images, "fetch")
    by_address = _fetch(lam, "fetch", outside.address)
    assert by_address["connected"] is True, by_address
    assert by_address["received"].startswith("HTTP/1.0 200 OK"), by_address
    by_name = _fetch(lam, "fetch", WORLD_NAME)
    assert by_name["connected"] is True, by_name
    assert by_name["received"].startswith("HTTP/1.0 200 OK"), by_name


def test_a_function_fetches_the_world_over_ipv6_by_address_and_by_name(
    online: LambkinServer, outside: World, test_images: BuiltImages
) -> None:
    _, address6 = outside.ipv6()
    lam = _network_function(online, test_images, "fetch6")
    by_address = _fetch(lam, "fetch6", address6)
    assert by_address["connected"] is True, by_address
    assert by_address["received"].startswith("HTTP/1.0 200 OK"), by_address
    # The name has an AAAA record only: the forwarder passes the query and its answer as they are.
    by_name = _fetch(lam, "fetch6", WORLD6_NAME)
    assert by_name["connected"] is True, by_name
    assert by_name["received"].startswith("HTTP/1.0 200 OK"), by_name


def test_under_none_a_function_reaches_nothing(
    tmp_path_factory: pytest.TempPathFactory, outside: World, test_images: BuiltImages
) -> None:
    server = _server(tmp_path_factory, outside, LAMBKIN_NETWORK="none")
    try:
        lam = _network_function(server, test_images, "offline")
        assert _fetch(lam, "offline", outside.address)["connected"] is False
        if outside.address6 is not None:
            assert _fetch(lam, "offline", outside.address6)["connected"] is False
        by_name = _fetch(lam, "offline", WORLD_NAME)
        assert by_name["connected"] is False
        assert by_name["error"] == "gaierror"
        assert links_of(server.data_dir) == {}
        assert table_of(server.data_dir) is None
    finally:
        server.stop()


def test_a_denied_range_is_not_reached(
    tmp_path_factory: pytest.TempPathFactory, outside: World, test_images: BuiltImages
) -> None:
    denied6 = [f"{outside.address6}/128"] if outside.address6 is not None else []
    server = _server(
        tmp_path_factory,
        outside,
        LAMBKIN_NETWORK_DENY=",".join(
            ["10.255.0.0/16", f"{outside.address}/32", "2001:db8:ffff::/48", *denied6]
        ),
    )
    try:
        lam = _network_function(server, test_images, "denied")
        assert _fetch(lam, "denied", outside.address)["connected"] is False
        if outside.address6 is not None:
            assert _fetch(lam, "denied", outside.address6)["connected"] is False
        # The name still resolves (the forwarder asks from lambkin's own namespace); the address is denied.
        by_name = _fetch(lam, "denied", WORLD_NAME)
        assert by_name["connected"] is False
        assert by_name["error"] != "gaierror", by_name
    finally:
        server.stop()


def test_a_restart_after_kill_leaves_no_link_or_rule_of_the_old_run(
    tmp_path_factory: pytest.TempPathFactory, outside: World, test_images: BuiltImages
) -> None:
    server = _server(tmp_path_factory, outside)
    try:
        lam = _network_function(server, test_images, "before")
        assert _fetch(lam, "before", outside.address)["connected"] is True
        old_links = links_of(server.data_dir)
        old_rules = table_of(server.data_dir)
        old_routes6 = {
            dst
            for dst, dev in routes6()
            if dev in link_names_of(server.data_dir) and not dst.startswith("fe80:")
        }
        assert old_links and old_rules
        assert bool(old_routes6) is (outside.address6 is not None)
        server.restart(kill=True)
        assert _fetch(lam, "before", outside.address)["connected"] is True
        if outside.address6 is not None:
            assert _fetch(lam, "before", outside.address6)["connected"] is True
        assert not set(old_links) & set(links_of(server.data_dir))
        current = link_names_of(server.data_dir)
        assert not [(dst, dev) for dst, dev in routes6() if dst in old_routes6 and dev not in current]
        new_rules = table_of(server.data_dir)
        assert new_rules is not None
        assert new_rules.rules == old_rules.rules  # replaced, not added to
        assert new_rules.handle != old_rules.handle
    finally:
        server.stop()
    assert links_of(server.data_dir) == {}
    assert table_of(server.data_dir) is None
