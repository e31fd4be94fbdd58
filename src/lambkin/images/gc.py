"""Garbage collection: deletes blobs no manifest references, and uploads abandoned long ago."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.images.blobs import BlobStore
from lambkin.images.uploads import UPLOAD_PREFIX, upload_node
from lambkin.store import Connection, Store

log = logging.getLogger("lambkin.images.gc")

BLOB_GRACE = 3600.0  # seconds an unreferenced blob is kept: a push uploads blobs before its manifest
UPLOAD_GRACE = 24 * 3600.0  # seconds an upload may sit idle before it counts as abandoned


@dataclass(frozen=True)
class GarbageReport:
    blobs_deleted: tuple[str, ...]
    bytes_freed: int
    uploads_deleted: int
    staging_files_deleted: int


async def collect_garbage(
    db: Store,
    blobs: BlobStore,
    now: float,
    blob_grace: float = BLOB_GRACE,
    upload_grace: float = UPLOAD_GRACE,
    dry_run: bool = False,
    node: str | None = None,
) -> GarbageReport:
    """Deletes every blob that no manifest references and that is older than `blob_grace` seconds
    (untouched since its upload, mount or link), and every upload or staging file idle for longer than
    `upload_grace`. Manifests are never collected: delete them (or their tags) first.

    On a cluster every node collects its own blob files and upload sessions (those whose id names `node`)
    against the shared catalog: a blob any manifest references, or that any node linked to a repository
    within `blob_grace`, stays on every node.

    Blob files are listed off the event loop; the decision and the deletion of each blob happen in one
    database transaction, so a manifest being pushed at the same moment either sees the blob or fails
    cleanly with MANIFEST_BLOB_UNKNOWN, never names a deleted blob.
    """
    candidates = await asyncio.to_thread(_old_files, blobs, now - blob_grace)

    def sweep_blobs(conn: Connection) -> tuple[list[str], int]:
        conn.execute("DELETE FROM manifests WHERE digest NOT IN (SELECT digest FROM repository_manifests)")
        referenced = {
            row[0] for row in conn.execute("SELECT DISTINCT child FROM manifest_refs WHERE kind = 'blob'")
        }
        referenced |= {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT digest FROM repository_blobs WHERE linked_at >= ?", (now - blob_grace,)
            )
        }
        deleted: list[str] = []
        freed = 0
        for digest in candidates:
            if digest in referenced:
                continue
            path = blobs.path(digest)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if stat.st_mtime >= now - blob_grace:
                continue  # linked again since it was listed
            if not dry_run:
                path.unlink(missing_ok=True)
                # Unless another node linked or referenced it since this unit began (a cluster's nodes
                # do not wait for each other's units): then its copy there stays known.
                conn.execute(
                    "DELETE FROM repository_blobs WHERE digest = ? AND linked_at < ? AND NOT EXISTS"
                    " (SELECT 1 FROM manifest_refs WHERE child = ? AND kind = 'blob')",
                    (digest, now - blob_grace, digest),
                )
            deleted.append(digest)
            freed += stat.st_size
        return deleted, freed

    deleted, freed = await db.run(sweep_blobs)

    def sweep_uploads(conn: Connection) -> int:
        count = 0
        for row in conn.execute("SELECT uuid FROM uploads").fetchall():
            if upload_node(row[0]) != node:
                continue  # another node's session: its staging file is there
            path = blobs.staging / f"{UPLOAD_PREFIX}{row[0]}"
            if _idle(path, now - upload_grace):
                if not dry_run:
                    path.unlink(missing_ok=True)
                    conn.execute("DELETE FROM uploads WHERE uuid = ?", (row[0],))
                count += 1
        return count

    uploads = await db.run(sweep_uploads)
    staging = await asyncio.to_thread(_sweep_staging, blobs.staging, now - upload_grace, dry_run)
    return GarbageReport(tuple(deleted), freed, uploads, staging)


async def collect_periodically(
    db: Store, blobs: BlobStore, interval: float, clock: Clock = SYSTEM_CLOCK, node: str | None = None
) -> None:
    """The server's background collection: one `collect_garbage` every `interval` seconds, until cancelled."""
    while True:
        await clock.sleep(interval)
        try:
            report = await collect_garbage(db, blobs, now=clock.now(), node=node)
        except Exception:
            log.exception("image garbage collection failed")
            continue
        if report.blobs_deleted or report.uploads_deleted or report.staging_files_deleted:
            log.info(
                "image gc: %d blobs (%d bytes), %d uploads, %d staging files deleted",
                len(report.blobs_deleted),
                report.bytes_freed,
                report.uploads_deleted,
                report.staging_files_deleted,
            )


def _old_files(blobs: BlobStore, cutoff: float) -> list[str]:
    old: list[str] = []
    for digest in blobs.digests():
        try:
            if blobs.path(digest).stat().st_mtime < cutoff:
                old.append(digest)
        except FileNotFoundError:
            continue
    return old


def _idle(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return True


def _sweep_staging(staging: Path, cutoff: float, dry_run: bool) -> int:
    """Staging files nobody finished (a crash mid-write, an abandoned monolithic upload)."""
    count = 0
    with os.scandir(staging) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                if not dry_run:
                    Path(entry.path).unlink(missing_ok=True)
                count += 1
    return count
