"""Pulls reach only public addresses, every redirect hop included, unless the operator lists the registry.

End to end, a real server and boto3: the registries are the test's own loopback servers, which a caller may
not make lambkin ask unless the server's LAMBKIN_PRIVATE_REGISTRIES lists them. One level down, the client
with an injected address classifier models a public registry (127.0.0.1 "public", 127.0.0.2 not) and
an injected resolver models DNS, to show redirects, rebinding and real public redirects.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from lambkin import app as composition
from lambkin.config import SettingInvalid, settings_from_environment
from lambkin.images.addresses import IPAddress, RegistryAllowList, is_public
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import MIGRATIONS, Catalog
from lambkin.images.pull import RegistryClient, RegistryNotAllowed, RegistryUnavailable
from lambkin.images.reference import parse_reference
from lambkin.store.sqlite import SqliteStore
from tests.e2e.lambda_support import create
from tests.harness import LambkinServer
from tests.security.registries import Image, Server

IMAGE = Image("pulled through a redirect")  # the unit tests' (each has a store of its own)
# A server never fetches a blob it stored already: an image of its own for each redirecting registry.
OUTWARD, ONWARD = Image("redirected outward"), Image("redirected onward")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    """plain: a registry; outward: one redirecting blobs to `unlisted`; onward: one redirecting to `listed`."""
    made = {"unlisted": Server(OUTWARD, store=True), "listed": Server(ONWARD, store=True)}
    made["plain"] = Server(Image("plain"))
    made["outward"] = Server(OUTWARD, redirect_to=f"http://{made['unlisted'].address}")
    made["onward"] = Server(ONWARD, redirect_to=f"http://{made['listed'].address}")
    try:
        yield made
    finally:
        for server in made.values():
            server.close()


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory, servers: dict[str, Server]) -> Iterator[LambkinServer]:
    """A server whose operator lists every test registry but `unlisted`."""
    listed = ",".join(servers[name].address for name in ("plain", "outward", "onward", "listed"))
    instance = LambkinServer(
        Path(tmp_path_factory.mktemp("listing")) / "data", env={"LAMBKIN_PRIVATE_REGISTRIES": listed}
    ).start()
    try:
        yield instance
    finally:
        instance.stop()


def settled(lam: Any, name: str) -> dict[str, Any]:
    """The function's configuration once it left Pending (Active or Failed)."""
    with contextlib.suppress(WaiterError):  # the waiter gives up at once on Failed
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
    config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
    return config


def test_a_registry_on_host_loopback_is_refused_by_default(
    server: LambkinServer, servers: dict[str, Server]
) -> None:
    lam = server.client("lambda")
    before = len(servers["plain"].requests)
    create(lam, "loopback", f"{servers['plain'].address}/team/app:v1")

    config = settled(lam, "loopback")

    assert (config["State"], config["StateReasonCode"]) == ("Failed", "ImageAccessDenied")
    assert f"{servers['plain'].address} is at 127.0.0.1 (loopback)" in config["StateReason"]
    assert "LAMBKIN_PRIVATE_REGISTRIES" in config["StateReason"]
    assert len(servers["plain"].requests) == before  # not one request reached it


def test_a_listed_private_registry_is_pulled(listing: LambkinServer, servers: dict[str, Server]) -> None:
    lam = listing.client("lambda")
    create(lam, "listed", f"{servers['plain'].address}/team/app:v1")

    assert settled(lam, "listed")["State"] == "Active"


def test_a_blob_redirect_to_an_unlisted_private_address_is_refused_at_the_redirect(
    listing: LambkinServer, servers: dict[str, Server]
) -> None:
    lam = listing.client("lambda")
    create(lam, "redirected", f"{servers['outward'].address}/team/app:v1")

    config = settled(lam, "redirected")

    assert (config["State"], config["StateReasonCode"]) == ("Failed", "ImageAccessDenied")
    target = f"http://{servers['unlisted'].address}/blobs/{OUTWARD.layer_digest}"
    assert f"refused GET {target}: {servers['unlisted'].address} is at 127.0.0.1" in config["StateReason"]
    assert any("/blobs/" in path for path in servers["outward"].requests)  # the registry was asked
    assert servers["unlisted"].requests == []  # where it pointed was not


def test_a_blob_redirect_to_another_allowed_host_is_followed(
    listing: LambkinServer, servers: dict[str, Server]
) -> None:
    lam = listing.client("lambda")
    create(lam, "onward", f"{servers['onward'].address}/team/app:v1")

    assert settled(lam, "onward")["State"] == "Active"
    assert servers["listed"].requests == [f"/blobs/{ONWARD.layer_digest}"]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe", "192.0.2.1",
    ],
)  # fmt: skip
def test_addresses_that_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_entries_of_the_setting() -> None:
    allowed = RegistryAllowList.parse(["registry.lan", "Mirror.lan:5000", "[fd00::5]:443", "10.0.0.0/8"])

    assert allowed.lists("registry.lan", 1234) and allowed.lists("mirror.lan", 5000)
    assert not allowed.lists("mirror.lan", 5001) and not allowed.lists("mirror.lan", None)
    assert allowed.lists("[fd00::5]", 443) and allowed.lists("10.1.2.3", None)
    assert allowed.allows("anything.lan", 80, ipaddress.ip_address("10.9.9.9"))
    assert not allowed.allows("anything.lan", 80, ipaddress.ip_address("192.168.0.1"))
    with pytest.raises(ValueError, match=r"'http://registry\.lan' is not a registry"):
        RegistryAllowList.parse(["http://registry.lan"])


def test_the_settings_list_registries_and_refuse_what_is_not_one(tmp_path: Path) -> None:
    env = {
        "LAMBKIN_PRIVATE_REGISTRIES": "registry.lan, 10.0.0.0/8",
        "LAMBKIN_INSECURE_REGISTRIES": "lab:5000",
    }
    settings, _ = settings_from_environment(tmp_path, "127.0.0.1", 9000, env)
    assert settings.private_registries == ("registry.lan", "10.0.0.0/8")
    assert settings.insecure_registries == ("lab:5000",)
    assert settings_from_environment(tmp_path, "127.0.0.1", 9000, {})[0].private_registries == ()

    bad = replace(settings, insecure_registries=("https://lab:5000",))
    with pytest.raises(
        SettingInvalid, match="LAMBKIN_INSECURE_REGISTRIES: 'https://lab:5000' is not a registry"
    ):
        composition.build(bad)


# One level down: 127.0.0.1 plays a public address, 127.0.0.2 a private one.


def pretend_public(address: IPAddress) -> bool:
    return address == ipaddress.ip_address("127.0.0.1")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    db = SqliteStore(tmp_path / "lambkin.db")
    db.migrate(MIGRATIONS)
    try:
        yield Catalog(db, BlobStore(tmp_path / "blobs"))
    finally:
        db.close()


def client(catalog: Catalog, answers: dict[str, list[str]], asked: list[str] | None = None) -> RegistryClient:
    """A client that resolves names by `answers` (one list per lookup, the last repeated)."""

    async def resolver(host: str, port: int) -> list[IPAddress]:
        if asked is not None:
            asked.append(host)
        replies = answers[host]
        return [ipaddress.ip_address(a) for a in (replies.pop(0) if len(replies) > 1 else replies[0]).split()]

    return RegistryClient(
        catalog.blobs,
        catalog,
        tls_verify=False,
        allowed=RegistryAllowList(public=pretend_public),
        resolver=resolver,
    )


async def test_a_public_registry_redirecting_a_blob_to_a_private_address_is_refused(catalog: Catalog) -> None:
    storage = Server(IMAGE, host="127.0.0.2", store=True)
    registry = Server(IMAGE, redirect_to=f"http://storage.example:{storage.address.split(':')[1]}")
    try:
        pull = client(catalog, {"registry.example": ["127.0.0.1"], "storage.example": ["127.0.0.2"]}).pull(
            parse_reference(f"registry.example:{registry.address.split(':')[1]}/team/app:v1")
        )
        with pytest.raises(RegistryNotAllowed, match=r"storage\.example:\d+ is at 127\.0\.0\.2 \(loopback\)"):
            await pull
    finally:
        registry.close()
        storage.close()
    assert storage.requests == []


async def test_a_public_registry_whose_token_service_is_private_is_refused(catalog: Catalog) -> None:
    tokens = Server(IMAGE, host="127.0.0.2", store=True)
    registry = Server(IMAGE, realm=f"http://{tokens.address}/token")
    try:
        pull = client(catalog, {"registry.example": ["127.0.0.1"]}).pull(
            parse_reference(f"registry.example:{registry.address.split(':')[1]}/team/app:v1")
        )
        with pytest.raises(RegistryNotAllowed, match=r"refused GET http://127\.0\.0\.2:\d+/token"):
            await pull
    finally:
        registry.close()
        tokens.close()
    assert tokens.requests == []


async def test_a_public_registry_redirecting_to_another_public_host_works(catalog: Catalog) -> None:
    storage = Server(IMAGE, store=True)
    registry = Server(IMAGE, redirect_to=f"http://cdn.example:{storage.address.split(':')[1]}")
    try:
        pulled = await client(
            catalog, {"registry.example": ["127.0.0.1"], "cdn.example": ["127.0.0.1"]}
        ).pull(parse_reference(f"registry.example:{registry.address.split(':')[1]}/team/app:v1"))
    finally:
        registry.close()
        storage.close()
    assert storage.requests == [f"/blobs/{IMAGE.layer_digest}"]
    assert catalog.blobs.exists(IMAGE.layer_digest) and pulled.manifest.layers[0].digest == IMAGE.layer_digest


async def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected(catalog: Catalog) -> None:
    # DNS rebinding: the first answer is public, every later one private. The pull connects to the first.
    public = Server(IMAGE)
    port = public.address.split(":")[1]
    private = Server(IMAGE, host="127.0.0.2", port=int(port))  # the same port, where a rebinding points
    asked: list[str] = []
    try:
        await client(catalog, {"rebind.example": ["127.0.0.1", "127.0.0.2"]}, asked).pull(
            parse_reference(f"rebind.example:{port}/team/app:v1")
        )
    finally:
        public.close()
        private.close()
    assert asked == ["rebind.example"]
    assert any("/manifests/" in path for path in public.requests) and private.requests == []


async def test_a_name_with_a_public_and_a_private_address_connects_to_the_public_one(
    catalog: Catalog,
) -> None:
    registry = Server(IMAGE)
    try:
        await client(catalog, {"mixed.example": ["127.0.0.2 127.0.0.1"]}).pull(
            parse_reference(f"mixed.example:{registry.address.split(':')[1]}/team/app:v1")
        )
    finally:
        registry.close()
    assert any("/blobs/" in path for path in registry.requests)


async def test_a_name_that_does_not_resolve_stays_a_connection_error(catalog: Catalog) -> None:
    async def nowhere(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def no_wait(seconds: float) -> None:
        pass

    client = RegistryClient(catalog.blobs, catalog, resolver=nowhere, sleep=no_wait)

    with pytest.raises(RegistryUnavailable, match=r"nowhere\.example could not be resolved"):
        await client.pull(parse_reference("nowhere.example/team/app:v1"))


async def test_a_registry_listed_as_insecure_may_be_private_and_speak_plain_http(catalog: Catalog) -> None:
    registry = Server(IMAGE)
    ref = parse_reference(f"lab.example:{registry.address.split(':')[1]}/team/app:v1")

    async def lab(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    insecure = RegistryAllowList.parse(["lab.example"])
    try:
        with pytest.raises(RegistryNotAllowed):
            await RegistryClient(catalog.blobs, catalog, insecure=insecure, resolver=lab).pull(ref)
        pulled = await RegistryClient(
            catalog.blobs, catalog, allowed=insecure, insecure=insecure, resolver=lab
        ).pull(ref)
    finally:
        registry.close()
    assert pulled.manifest.layers[0].digest == IMAGE.layer_digest
