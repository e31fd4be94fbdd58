"""The catalog: manifests by tag and digest, blob checks, deletes, listings and per-repository blobs."""

from __future__ import annotations

import asyncio
import json

import pytest

from lambkin.images.blobs import sha256_digest
from lambkin.images.errors import (
    BlobUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    TagInvalid,
)
from lambkin.images.manifests import OCI_INDEX, OCI_MANIFEST
from tests.unit.images.catalog_fixtures import Parts, index_for, manifest_for, parts

__all__ = ["parts"]


async def test_put_then_get_by_tag_and_digest(parts: Parts) -> None:
    raw = manifest_for(parts.blobs, b"layer one")
    digest = await parts.catalog.put_manifest("team/app", "v1", raw, OCI_MANIFEST)
    assert digest == sha256_digest(raw)
    for reference in ("v1", digest):
        stored = await parts.catalog.get_manifest("team/app", reference)
        assert (stored.digest, stored.media_type, stored.raw) == (digest, OCI_MANIFEST, raw)
    assert await parts.catalog.has_manifest("team/app", "v1")
    assert not await parts.catalog.has_manifest("other/app", "v1")
    assert await parts.catalog.repository_has_blob("team/app", json.loads(raw)["layers"][0]["digest"])


async def test_retagging_moves_the_tag(parts: Parts) -> None:
    first = await parts.catalog.put_manifest("app", "latest", manifest_for(parts.blobs, b"1"), None)
    second = await parts.catalog.put_manifest("app", "latest", manifest_for(parts.blobs, b"2"), None)
    assert first != second
    assert (await parts.catalog.get_manifest("app", "latest")).digest == second
    assert (await parts.catalog.get_manifest("app", first)).digest == first  # still there by digest


async def test_manifest_must_name_stored_blobs_of_the_right_size(parts: Parts) -> None:
    raw = manifest_for(parts.blobs, b"layer")
    doc = json.loads(raw)
    doc["layers"][0]["digest"] = sha256_digest(b"never stored")
    with pytest.raises(ManifestBlobUnknown) as unknown:
        await parts.catalog.put_manifest("app", "v1", json.dumps(doc).encode(), OCI_MANIFEST)
    assert unknown.value.detail == {"digest": sha256_digest(b"never stored")}
    doc = json.loads(raw)
    doc["layers"][0]["size"] = 999
    with pytest.raises(ManifestInvalid, match="size 999"):
        await parts.catalog.put_manifest("app", "v1", json.dumps(doc).encode(), OCI_MANIFEST)
    assert await parts.catalog.repositories() == []


async def test_reference_and_name_checks(parts: Parts) -> None:
    raw = manifest_for(parts.blobs, b"x")
    with pytest.raises(DigestInvalid):
        await parts.catalog.put_manifest("app", sha256_digest(b"other"), raw, OCI_MANIFEST)
    with pytest.raises(DigestInvalid):
        await parts.catalog.get_manifest("app", "sha512:abcd")
    with pytest.raises(TagInvalid):
        await parts.catalog.put_manifest("app", "bad tag", raw, OCI_MANIFEST)
    with pytest.raises(NameInvalid):
        await parts.catalog.put_manifest("App/Upper", "v1", raw, OCI_MANIFEST)
    with pytest.raises(NameInvalid):
        await parts.catalog.tags("a" * 256)
    with pytest.raises(ManifestUnknown):
        await parts.catalog.get_manifest("app", "v1")


async def test_index_needs_children_in_the_same_repository(parts: Parts) -> None:
    child = manifest_for(parts.blobs, b"amd64 layer")
    index = index_for((sha256_digest(child), len(child), "amd64"))
    await parts.catalog.put_manifest("elsewhere", sha256_digest(child), child, OCI_MANIFEST)
    with pytest.raises(ManifestBlobUnknown):
        await parts.catalog.put_manifest("multi", "latest", index, OCI_INDEX)
    await parts.catalog.put_manifest("multi", sha256_digest(child), child, OCI_MANIFEST)
    await parts.catalog.put_manifest("multi", "latest", index, OCI_INDEX)
    images = [i for i in await parts.catalog.images() if i.repository == "multi"]
    assert [(i.tags, i.media_type) for i in images] == [(("latest",), OCI_INDEX)]  # the child is folded in
    assert images[0].size == len(index) + len(child) + sum(
        d["size"] for d in [json.loads(child)["config"], *json.loads(child)["layers"]]
    )


async def test_delete_by_tag_then_by_digest(parts: Parts) -> None:
    raw = manifest_for(parts.blobs, b"x")
    digest = await parts.catalog.put_manifest("app", "a", raw, OCI_MANIFEST)
    await parts.catalog.put_manifest("app", "b", raw, OCI_MANIFEST)
    await parts.catalog.delete_manifest("app", "a")
    assert await parts.catalog.tags("app") == ["b"]
    await parts.catalog.delete_manifest("app", digest)
    with pytest.raises(ManifestUnknown):
        await parts.catalog.get_manifest("app", "b")
    with pytest.raises(ManifestUnknown):
        await parts.catalog.delete_manifest("app", digest)
    with pytest.raises(NameUnknown):
        await parts.catalog.tags("app")


async def test_listings_are_sorted_and_paged(parts: Parts) -> None:
    raw = manifest_for(parts.blobs, b"x")
    for repository in ("zeta", "alpha", "mid/app"):
        for tag in ("v2", "v10", "latest"):
            await parts.catalog.put_manifest(repository, tag, raw, OCI_MANIFEST)
    assert await parts.catalog.repositories() == ["alpha", "mid/app", "zeta"]
    assert await parts.catalog.repositories(last="alpha", limit=1) == ["mid/app"]
    assert await parts.catalog.tags("zeta") == ["latest", "v10", "v2"]
    assert await parts.catalog.tags("zeta", last="latest", limit=1) == ["v10"]
    summary = [i for i in await parts.catalog.images() if i.repository == "alpha"]
    assert [i.tags for i in summary] == [("latest", "v10", "v2")]


async def test_blobs_belong_to_repositories(parts: Parts) -> None:
    digest = await asyncio.to_thread(parts.blobs.put_bytes, b"shared")
    assert not await parts.catalog.repository_has_blob("app", digest)
    await parts.catalog.link_blob("app", digest)
    assert await parts.catalog.repository_has_blob("app", digest)
    await parts.catalog.unlink_blob("app", digest)
    assert not await parts.catalog.repository_has_blob("app", digest)
    with pytest.raises(BlobUnknown):
        await parts.catalog.unlink_blob("app", digest)
    with pytest.raises(BlobUnknown):
        await parts.catalog.link_blob("app", sha256_digest(b"absent"))


async def test_referrers_are_listed_for_their_subject_not_as_images(parts: Parts) -> None:
    image = manifest_for(parts.blobs, b"image layer")
    subject = await parts.catalog.put_manifest("app", "v1", image, OCI_MANIFEST)
    artifact = json.loads(manifest_for(parts.blobs, b"signature"))
    artifact["artifactType"] = "application/vnd.example.sig"
    artifact["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(image)}
    raw = json.dumps(artifact).encode()
    digest = await parts.catalog.put_manifest("app", sha256_digest(raw), raw, OCI_MANIFEST)

    [found] = await parts.catalog.referrers("app", subject)
    assert (found.digest, found.artifact_type, found.size) == (
        digest,
        "application/vnd.example.sig",
        len(raw),
    )
    assert await parts.catalog.referrers("app", subject, "application/other") == []
    assert await parts.catalog.referrers("elsewhere", subject) == []
    assert [i.digest for i in await parts.catalog.images()] == [subject]
