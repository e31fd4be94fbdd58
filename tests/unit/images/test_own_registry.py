"""Which image URIs name lambkin's own registry: its address, loopback with its port, its other names, and
a peer's address learnt at the moment of asking (a node that started after this one last heard of peers)."""

from __future__ import annotations

from pathlib import Path

from lambkin.images.manifests import OCI_MANIFEST
from lambkin.images.reference import parse_reference
from lambkin.images.service import build_image_service
from tests.unit.images.catalog_fixtures import Parts, manifest_for, parts

__all__ = ["parts"]

PEER = "10.0.0.7:9000"


async def _pushed(parts: Parts) -> str:
    return await parts.catalog.put_manifest("app", "v1", manifest_for(parts.blobs), OCI_MANIFEST)


async def test_a_uri_naming_a_peer_heard_of_only_when_asked_is_read_from_the_catalog(
    parts: Parts, tmp_path: Path
) -> None:
    known: list[str] = []
    asked: list[str] = []

    async def learn() -> None:
        asked.append("learn")
        known.append(PEER)

    images = build_image_service(
        tmp_path, "10.0.0.5", 9000, parts.catalog, aliases=lambda: known, learn_aliases=learn
    )
    digest = await _pushed(parts)

    resolved = await images.resolve(f"{PEER}/app:v1", "x86_64")

    assert resolved.digest == digest
    assert resolved.resolved_uri == f"{PEER}/app@{digest}"
    assert asked == ["learn"]


async def test_a_uri_naming_this_node_asks_nobody(parts: Parts, tmp_path: Path) -> None:
    asked: list[str] = []

    async def learn() -> None:
        asked.append("learn")

    images = build_image_service(tmp_path, "10.0.0.5", 9000, parts.catalog, learn_aliases=learn)
    digest = await _pushed(parts)

    assert (await images.resolve("127.0.0.1:9000/app:v1", "x86_64")).digest == digest
    assert (await images.resolve("10.0.0.5:9000/app:v1", "x86_64")).digest == digest
    assert asked == []


def test_names_of_the_registry(parts: Parts, tmp_path: Path) -> None:
    images = build_image_service(
        tmp_path, "10.0.0.5", 9000, parts.catalog, aliases=lambda: ["LB.example:5000"]
    )
    own = images.is_own_registry

    assert own(parse_reference("10.0.0.5:9000/app:v1"))
    assert own(parse_reference("localhost:9000/app:v1"))
    assert own(parse_reference("lb.example:5000/app:v1"))
    assert not own(parse_reference("10.0.0.5:9001/app:v1"))
    assert not own(parse_reference("registry.example/app:v1"))
