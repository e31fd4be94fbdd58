"""The registry client against a scripted registry (httpx.MockTransport): bearer auth, retries, verification."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lambkin.images.addresses import RegistryAllowList
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import MIGRATIONS, Catalog
from lambkin.images.pull import (
    ContentInvalid,
    RegistryAuthFailed,
    RegistryClient,
    RegistryUnavailable,
    RetryPolicy,
)
from lambkin.images.reference import parse_reference
from lambkin.images.registry_auth import Credentials
from lambkin.store.sqlite import SqliteStore
from tests.unit.images.layer_tars import file, tar_bytes

LAYER_TAR = tar_bytes([file("hello.txt", b"hello\n")])
LAYER = gzip.compress(LAYER_TAR)
CONFIG = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["app.handler"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(LAYER_TAR).hexdigest()]},
    }
).encode()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(CONFIG),
            "size": len(CONFIG),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest(LAYER),
                "size": len(LAYER),
            }
        ],
    }
).encode()


class ScriptedRegistry:
    """A registry that wants a bearer token from its realm and fails some requests first."""

    def __init__(self, failures: dict[str, list[int]] | None = None, layer: bytes = LAYER) -> None:
        self.failures = failures or {}
        self.layer = layer
        self.token_requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.example":
            self.token_requests.append(request)
            if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"bob:pw").decode():
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "tok"})
        if request.headers.get("Authorization") != "Bearer tok":
            challenge = (
                'Bearer realm="https://auth.example/token",service="reg",scope="repository:team/app:pull"'
            )
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        path = request.url.path
        for suffix, statuses in self.failures.items():
            if path.endswith(suffix) and statuses:
                return httpx.Response(statuses.pop(0))
        if path == "/v2/team/app/manifests/v1":
            return httpx.Response(
                200, content=MANIFEST, headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
            )
        if path == f"/v2/team/app/blobs/{digest(CONFIG)}":
            return httpx.Response(200, content=CONFIG)
        if path == f"/v2/team/app/blobs/{digest(LAYER)}":
            return httpx.Response(200, content=self.layer)
        return httpx.Response(404)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    db = SqliteStore(tmp_path / "lambkin.db")
    db.migrate(MIGRATIONS)
    try:
        yield Catalog(db, BlobStore(tmp_path / "blobs"))
    finally:
        db.close()


def client(
    catalog: Catalog, registry: ScriptedRegistry, sleeps: list[float], creds: str = "bob:pw"
) -> RegistryClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RegistryClient(
        catalog.blobs,
        catalog,
        credentials={"registry.example": Credentials.parse(creds)},
        retry=RetryPolicy(attempts=4),
        allowed=RegistryAllowList(any_address=True),  # names stay names: addresses are test_pull_ssrf's
        transport=httpx.MockTransport(registry),
        sleep=sleep,
    )


async def test_bearer_token_auth_and_retries_on_5xx(catalog: Catalog) -> None:
    registry = ScriptedRegistry({f"blobs/{digest(LAYER)}": [503, 502]})
    sleeps: list[float] = []

    pulled = await client(catalog, registry, sleeps).pull(parse_reference("registry.example/team/app:v1"))

    assert pulled.digest == digest(MANIFEST)
    assert pulled.config.cmd == ("app.handler",)
    assert catalog.blobs.read(digest(LAYER)) == LAYER
    assert sleeps == [0.5, 1.0]
    token = registry.token_requests[0].url
    assert (token.params["service"], token.params["scope"]) == ("reg", "repository:team/app:pull")
    assert (await catalog.get_manifest("team/app", "v1")).digest == digest(MANIFEST)


async def test_a_registry_failing_every_attempt_is_unavailable(catalog: Catalog) -> None:
    registry = ScriptedRegistry({"manifests/v1": [500] * 10})
    sleeps: list[float] = []

    with pytest.raises(RegistryUnavailable, match="failed after 4 attempts: HTTP 500"):
        await client(catalog, registry, sleeps).pull(parse_reference("registry.example/team/app:v1"))

    assert sleeps == [0.5, 1.0, 2.0]


async def test_a_blob_that_does_not_match_its_digest_is_not_stored(catalog: Catalog) -> None:
    tampered = bytearray(LAYER)
    tampered[-10] ^= 0xFF
    registry = ScriptedRegistry(layer=bytes(tampered))

    with pytest.raises(ContentInvalid, match="does not match its digest"):
        await client(catalog, registry, []).pull(parse_reference("registry.example/team/app:v1"))

    assert not catalog.blobs.exists(digest(LAYER))
    assert list(catalog.blobs.staging.iterdir()) == []
    assert await catalog.repositories() == []


async def test_refused_token_credentials_fail_clearly(catalog: Catalog) -> None:
    with pytest.raises(RegistryAuthFailed, match="refused the credentials"):
        await client(catalog, ScriptedRegistry(), [], creds="bob:wrong").pull(
            parse_reference("registry.example/team/app:v1")
        )
