"""Garbage collection: what a manifest references stays, old unreferenced blobs and uploads go."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from lambkin.images.blobs import BlobStore, sha256_digest
from lambkin.images.catalog import Catalog
from lambkin.images.errors import BlobUploadUnknown
from lambkin.images.gc import BLOB_GRACE, UPLOAD_GRACE, collect_garbage, collect_periodically
from lambkin.images.manifests import OCI_MANIFEST
from lambkin.images.uploads import Uploads
from lambkin.testing.clock import ManualClock
from tests.unit.images.catalog_fixtures import Parts, manifest_for, parts

__all__ = ["parts"]
LATER = BLOB_GRACE + UPLOAD_GRACE + 60  # seconds: every grace period has run out


async def test_unreferenced_blobs_go_once_their_grace_is_over(parts: Parts) -> None:
    raw = manifest_for(parts.blobs, b"kept layer")
    await parts.catalog.put_manifest("app", "v1", raw, OCI_MANIFEST)
    orphan = parts.blobs.put_bytes(b"orphan layer")
    await parts.catalog.link_blob("app", orphan)

    fresh = await collect_garbage(parts.db, parts.blobs, now=time.time())
    assert fresh.blobs_deleted == ()  # a push may still be about to name it

    dry = await collect_garbage(parts.db, parts.blobs, now=time.time() + LATER, dry_run=True)
    assert dry.blobs_deleted == (orphan,) and parts.blobs.exists(orphan)

    report = await collect_garbage(parts.db, parts.blobs, now=time.time() + LATER)
    assert report.blobs_deleted == (orphan,) and report.bytes_freed == len(b"orphan layer")
    assert not parts.blobs.exists(orphan)
    assert not await parts.catalog.repository_has_blob("app", orphan)
    for descriptor in [json.loads(raw)["config"], *json.loads(raw)["layers"]]:
        assert parts.blobs.exists(descriptor["digest"])
    assert (await parts.catalog.get_manifest("app", "v1")).raw == raw


async def test_deleting_the_last_manifest_frees_its_blobs(parts: Parts) -> None:
    shared = manifest_for(parts.blobs, b"shared layer")
    digest = await parts.catalog.put_manifest("one", "v1", shared, OCI_MANIFEST)
    await parts.catalog.put_manifest("two", "v1", shared, OCI_MANIFEST)
    layer = sha256_digest(b"shared layer")

    await parts.catalog.delete_manifest("one", digest)
    await collect_garbage(parts.db, parts.blobs, now=time.time() + LATER)
    assert parts.blobs.exists(layer)  # repository two still uses it

    await parts.catalog.delete_manifest("two", digest)
    report = await collect_garbage(parts.db, parts.blobs, now=time.time() + LATER)
    assert layer in report.blobs_deleted and not parts.blobs.exists(layer)


async def test_abandoned_uploads_and_staging_files_go(parts: Parts) -> None:
    uploads = Uploads(parts.db, parts.blobs, parts.catalog)
    abandoned = await uploads.start("app")
    leftover = parts.blobs.new_staging_path()
    leftover.write_bytes(b"half a blob from a crash")

    assert (await collect_garbage(parts.db, parts.blobs, now=time.time())).uploads_deleted == 0
    report = await collect_garbage(parts.db, parts.blobs, now=time.time() + LATER)
    assert report.uploads_deleted == 1 and report.staging_files_deleted == 1
    assert not leftover.exists()
    assert not await _known(uploads, abandoned.uuid)


async def _known(uploads: Uploads, upload_id: str) -> bool:
    fresh = Uploads(uploads.db, uploads.blobs, uploads.catalog)  # as after a restart: no memory of it
    try:
        await fresh.status("app", upload_id)
    except BlobUploadUnknown:
        return False
    return True


async def test_the_servers_periodic_collection_frees_old_unreferenced_blobs(parts: Parts) -> None:
    orphan = parts.blobs.put_bytes(b"left behind by a deleted image")
    old = time.time() - BLOB_GRACE - 60
    os.utime(parts.blobs.path(orphan), (old, old))
    clock = ManualClock(time.time())
    task = asyncio.create_task(collect_periodically(parts.db, parts.blobs, interval=3600, clock=clock))
    try:
        await clock.wait_sleeping()
        clock.advance(3600)
        await clock.wait_sleeping()  # one collection done, the next one waits
    finally:
        task.cancel()
    assert not parts.blobs.exists(orphan)


async def test_on_a_cluster_each_node_collects_only_its_own_uploads(parts: Parts, tmp_path: Path) -> None:
    other_blobs = BlobStore(tmp_path / "node-b-blobs")
    mine = await Uploads(parts.db, parts.blobs, parts.catalog, node="a").start("app")
    theirs = await Uploads(parts.db, other_blobs, Catalog(parts.db, other_blobs), node="b").start("app")

    report = await collect_garbage(parts.db, parts.blobs, now=time.time() + LATER, node="a")

    assert report.uploads_deleted == 1
    rows = await parts.db.run(lambda conn: [r[0] for r in conn.execute("SELECT uuid FROM uploads")])
    assert rows == [theirs.uuid] and mine.uuid.endswith(".a") and theirs.uuid.endswith(".b")


async def test_a_blob_another_node_linked_lately_stays_on_every_node(parts: Parts, tmp_path: Path) -> None:
    other_blobs = BlobStore(tmp_path / "node-b-blobs")
    digest = parts.blobs.put_bytes(b"a layer both nodes hold")
    old = time.time() - BLOB_GRACE - 60
    os.utime(parts.blobs.path(digest), (old, old))  # this node's copy is old and nothing references it
    other_blobs.put_bytes(b"a layer both nodes hold")
    await Catalog(parts.db, other_blobs).link_blob("app", digest)  # but node b pushed it just now

    report = await collect_garbage(parts.db, parts.blobs, now=time.time(), node="a")

    assert report.blobs_deleted == () and parts.blobs.exists(digest)
