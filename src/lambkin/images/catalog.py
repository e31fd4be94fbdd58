"""The image catalog: repositories, manifests, tags and blob links, kept in the database."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass

from lambkin.images.blobs import BlobStore, sha256_digest
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
from lambkin.images.manifests import (
    DOCKER_FOREIGN_LAYER,
    OCI_LAYER_NONDIST_GZIP,
    OCI_LAYER_NONDIST_TAR,
    OCI_LAYER_NONDIST_ZSTD,
    Descriptor,
    ImageIndex,
    parse_manifest,
)
from lambkin.images.peer_blobs import PeerBlobs
from lambkin.store import Connection, Migration, Row, Store

MIGRATIONS: list[Migration] = [
    Migration(
        "images",
        1,
        """
        CREATE TABLE manifests (
            digest TEXT PRIMARY KEY,
            media_type TEXT NOT NULL,
            raw BLOB NOT NULL,
            image_size INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE manifest_refs (
            digest TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
            child TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
            PRIMARY KEY (digest, child, kind)
        );
        CREATE INDEX manifest_refs_child ON manifest_refs(child);
        CREATE TABLE repository_manifests (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL REFERENCES manifests(digest),
            pushed_at REAL NOT NULL,
            PRIMARY KEY (repository, digest)
        );
        CREATE INDEX repository_manifests_digest ON repository_manifests(digest);
        CREATE TABLE tags (
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (repository, tag),
            FOREIGN KEY (repository, digest)
                REFERENCES repository_manifests(repository, digest) ON DELETE CASCADE
        );
        CREATE TABLE repository_blobs (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            linked_at REAL NOT NULL,
            PRIMARY KEY (repository, digest)
        );
        CREATE INDEX repository_blobs_digest ON repository_blobs(digest);
        CREATE TABLE uploads (
            uuid TEXT PRIMARY KEY,
            repository TEXT NOT NULL,
            started_at REAL NOT NULL
        )
        """,
    ),
    Migration(
        "images",
        2,
        """
        CREATE TABLE referrers (
            repository TEXT NOT NULL,
            subject TEXT NOT NULL,
            digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            artifact_type TEXT,
            annotations TEXT NOT NULL,
            PRIMARY KEY (repository, subject, digest),
            FOREIGN KEY (repository, digest)
                REFERENCES repository_manifests(repository, digest) ON DELETE CASCADE
        )
        """,
    ),
]

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST_REFERENCE_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
MAX_REPOSITORY_LENGTH = 255
# Layers that live outside registries (Windows base layers): a manifest may name them without them.
_EXTERNAL_LAYERS = frozenset(
    {DOCKER_FOREIGN_LAYER, OCI_LAYER_NONDIST_TAR, OCI_LAYER_NONDIST_GZIP, OCI_LAYER_NONDIST_ZSTD}
)


def check_repository(name: str) -> str:
    """Returns `name` if it is a valid repository name; raises NameInvalid."""
    if len(name) > MAX_REPOSITORY_LENGTH or not REPOSITORY_RE.match(name):
        raise NameInvalid(f"invalid repository name {name!r}", {"name": name})
    return name


def check_digest(digest: str) -> str:
    """Returns `digest` if it is a sha256 digest; raises DigestInvalid (also for other algorithms)."""
    if not _SHA256_RE.match(digest):
        if DIGEST_REFERENCE_RE.match(digest):
            raise DigestInvalid(f"unsupported digest {digest!r}: lambkin stores sha256 only", digest)
        raise DigestInvalid(f"invalid digest {digest!r}: expected sha256:<64 lowercase hex>", digest)
    return digest


def _limit(limit: int | None) -> str:
    """A LIMIT clause, or none for no limit (the portable spelling: SQLite's LIMIT -1 is not PostgreSQL's)."""
    return "" if limit is None else f" LIMIT {int(limit)}"


def is_digest(reference: str) -> bool:
    return ":" in reference


def check_reference(reference: str) -> str:
    """A tag or a digest; raises TagInvalid or DigestInvalid."""
    if is_digest(reference):
        return check_digest(reference)
    if not TAG_RE.match(reference):
        raise TagInvalid(f"invalid tag {reference!r}", {"tag": reference})
    return reference


@dataclass(frozen=True)
class StoredManifest:
    digest: str
    media_type: str
    raw: bytes


@dataclass(frozen=True)
class ImageSummary:
    """One image in one repository, for `lambkin image ls`: its tags, digest and total size."""

    repository: str
    tags: tuple[str, ...]
    digest: str
    media_type: str
    size: int
    pushed_at: float


class Catalog:
    """Repositories, manifests, tags and which blobs each repository may use.

    Manifests are small and kept in the database (raw bytes, exactly as pushed); blobs live in the
    BlobStore. A repository holds a blob once it was uploaded or mounted there, or once a manifest
    pushed there references it. Every method checks its input and raises an `images.errors` error.

    The catalog is shared by every node of a cluster, the blobs are each node's own: a blob the catalog
    names and this node lacks is fetched from a peer (`peers`) before it is used here.
    """

    def __init__(self, db: Store, blobs: BlobStore, peers: PeerBlobs | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.peers = peers or PeerBlobs(blobs)

    async def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str | None) -> str:
        """Stores a manifest under a tag or its digest; returns its digest.

        Checks the JSON and media type, that every blob (or, for an index, every child manifest) it
        names is already in the registry, and that `reference`, when a digest, is the content's.
        """
        check_repository(repository)
        check_reference(reference)
        manifest = parse_manifest(raw, media_type)
        digest = sha256_digest(raw)
        if is_digest(reference) and reference != digest:
            raise DigestInvalid(f"manifest content hashes to {digest}, not {reference}", reference)
        tag = None if is_digest(reference) else reference
        if not isinstance(manifest, ImageIndex):
            for blob in manifest.references():
                await self.peers.ensure(blob.digest)  # pushed through another node: copied here first

        def store(conn: Connection) -> None:
            now = time.time()
            refs: list[tuple[str, str]] = []
            size = len(raw)
            if isinstance(manifest, ImageIndex):
                for child in manifest.manifests:
                    row = conn.execute(
                        "SELECT m.image_size FROM repository_manifests r JOIN manifests m USING (digest)"
                        " WHERE r.repository = ? AND r.digest = ?",
                        (repository, child.digest),
                    ).fetchone()
                    if row is None:
                        raise ManifestBlobUnknown(
                            f"the index names manifest {child.digest}, which is not in {repository}",
                            {"digest": child.digest},
                        )
                    size += row[0]
                    refs.append((child.digest, "manifest"))
            else:
                for blob in manifest.references():
                    if blob.media_type in _EXTERNAL_LAYERS and not self.blobs.exists(blob.digest):
                        continue
                    self._check_blob(blob.digest, blob.size)
                    size += blob.size
                    refs.append((blob.digest, "blob"))
            conn.execute(
                "INSERT INTO manifests (digest, media_type, raw, image_size, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                (digest, manifest.media_type, raw, size, now),
            )
            conn.executemany(
                "INSERT INTO manifest_refs (digest, child, kind) VALUES (?, ?, ?)"
                " ON CONFLICT (digest, child, kind) DO NOTHING",
                [(digest, child, kind) for child, kind in refs],
            )
            conn.execute(
                "INSERT INTO repository_manifests (repository, digest, pushed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (repository, digest) DO NOTHING",
                (repository, digest, now),
            )
            conn.executemany(
                "INSERT INTO repository_blobs (repository, digest, linked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (repository, digest) DO NOTHING",
                [(repository, child, now) for child, kind in refs if kind == "blob"],
            )
            if manifest.subject is not None:
                conn.execute(
                    "INSERT INTO referrers (repository, subject, digest, media_type, size, artifact_type,"
                    " annotations) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository, subject, digest)"
                    " DO NOTHING",
                    (
                        repository,
                        manifest.subject.digest,
                        digest,
                        manifest.media_type,
                        len(raw),
                        manifest.kind_of_artifact,
                        json.dumps(dict(manifest.annotations)),
                    ),
                )
            if tag is not None:
                conn.execute(
                    "INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest,"
                    " updated_at = excluded.updated_at",
                    (repository, tag, digest, now),
                )

        await self.db.run(store)
        return digest

    def _check_blob(self, digest: str, size: int) -> None:
        try:
            actual = self.blobs.size(digest)
        except FileNotFoundError:
            raise ManifestBlobUnknown(
                f"the manifest names blob {digest}, which is not in the registry", {"digest": digest}
            ) from None
        if actual != size:
            raise ManifestInvalid(
                f"the manifest gives blob {digest} size {size}, but it is {actual} bytes",
                {"digest": digest, "size": size, "actual": actual},
            )

    async def get_manifest(self, repository: str, reference: str) -> StoredManifest:
        """The manifest a tag or digest names in a repository; raises ManifestUnknown."""
        check_repository(repository)
        check_reference(reference)

        def load(conn: Connection) -> Row | None:
            if is_digest(reference):
                sql = (
                    "SELECT m.digest, m.media_type, m.raw FROM repository_manifests r"
                    " JOIN manifests m USING (digest) WHERE r.repository = ? AND r.digest = ?"
                )
            else:
                sql = (
                    "SELECT m.digest, m.media_type, m.raw FROM tags t"
                    " JOIN manifests m USING (digest) WHERE t.repository = ? AND t.tag = ?"
                )
            row: Row | None = conn.execute(sql, (repository, reference)).fetchone()
            return row

        row = await self.db.run(load)
        if row is None:
            raise ManifestUnknown(
                f"manifest {reference} is not in {repository}",
                {"repository": repository, "reference": reference},
            )
        return StoredManifest(row["digest"], row["media_type"], bytes(row["raw"]))

    async def has_manifest(self, repository: str, reference: str) -> bool:
        try:
            await self.get_manifest(repository, reference)
        except ManifestUnknown:
            return False
        return True

    async def delete_manifest(self, repository: str, reference: str) -> None:
        """Deletes a tag, or a manifest by digest with every tag naming it; raises ManifestUnknown.

        The blobs stay until `collect_garbage` finds nothing references them.
        """
        check_repository(repository)
        check_reference(reference)

        def delete(conn: Connection) -> bool:
            if not is_digest(reference):
                return (
                    conn.execute(
                        "DELETE FROM tags WHERE repository = ? AND tag = ?", (repository, reference)
                    ).rowcount
                    > 0
                )
            conn.execute("DELETE FROM tags WHERE repository = ? AND digest = ?", (repository, reference))
            found = conn.execute(
                "DELETE FROM repository_manifests WHERE repository = ? AND digest = ?",
                (repository, reference),
            ).rowcount
            if found:
                conn.execute(
                    "DELETE FROM manifests WHERE digest = ?"
                    " AND NOT EXISTS (SELECT 1 FROM repository_manifests WHERE digest = ?)",
                    (reference, reference),
                )
            return found > 0

        if not await self.db.run(delete):
            raise ManifestUnknown(
                f"manifest {reference} is not in {repository}",
                {"repository": repository, "reference": reference},
            )

    async def referrers(
        self, repository: str, subject: str, artifact_type: str | None = None
    ) -> list[Descriptor]:
        """The manifests in `repository` whose `subject` is the given digest (OCI 1.1 referrers)."""
        check_repository(repository)
        check_digest(subject)

        def load(conn: Connection) -> list[Descriptor]:
            of_type = "" if artifact_type is None else " AND artifact_type = ?"
            rows = conn.execute(
                "SELECT digest, media_type, size, artifact_type, annotations FROM referrers"
                f" WHERE repository = ? AND subject = ?{of_type} ORDER BY digest",
                (repository, subject) if artifact_type is None else (repository, subject, artifact_type),
            )
            return [
                Descriptor(r[1], r[0], r[2], None, json.loads(r[4]), r[3] or None) for r in rows.fetchall()
            ]

        return await self.db.run(load)

    async def tags(self, repository: str, last: str | None = None, limit: int | None = None) -> list[str]:
        """The repository's tags in lexical order, after `last`, at most `limit`; raises NameUnknown."""
        check_repository(repository)

        def load(conn: Connection) -> list[str] | None:
            known = conn.execute(
                "SELECT 1 FROM repository_manifests WHERE repository = ? LIMIT 1", (repository,)
            ).fetchone()
            if known is None:
                return None
            rows = conn.execute(
                f"SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag{_limit(limit)}",
                (repository, last or ""),
            )
            return [r[0] for r in rows]

        found = await self.db.run(load)
        if found is None:
            raise NameUnknown(f"repository {repository} is not known", {"name": repository})
        return found

    async def repositories(self, last: str | None = None, limit: int | None = None) -> list[str]:
        """Every repository holding a manifest, in lexical order, after `last`, at most `limit`."""

        def load(conn: Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT repository FROM repository_manifests WHERE repository > ?"
                f" ORDER BY repository{_limit(limit)}",
                (last or "",),
            )
            return [r[0] for r in rows]

        return await self.db.run(load)

    async def images(self) -> list[ImageSummary]:
        """Every tagged image, and every untagged one that is neither in an index nor about another
        manifest (a signature or other artifact with a subject)."""

        def load(conn: Connection) -> list[ImageSummary]:
            tagged: dict[tuple[str, str], list[str]] = {}
            for row in conn.execute("SELECT repository, digest, tag FROM tags ORDER BY tag"):
                tagged.setdefault((row[0], row[1]), []).append(row[2])
            rows = conn.execute(
                "SELECT r.repository, r.digest, r.pushed_at, m.media_type, m.image_size"
                " FROM repository_manifests r JOIN manifests m USING (digest)"
                " WHERE EXISTS (SELECT 1 FROM tags t WHERE t.repository = r.repository AND t.digest = r.digest)"
                "  OR (NOT EXISTS (SELECT 1 FROM manifest_refs f JOIN repository_manifests p"
                "   ON p.digest = f.digest AND p.repository = r.repository WHERE f.child = r.digest)"
                "  AND NOT EXISTS (SELECT 1 FROM referrers x"
                "   WHERE x.repository = r.repository AND x.digest = r.digest))"
                " ORDER BY r.repository, r.pushed_at DESC"
            )
            return [
                ImageSummary(
                    repository=row["repository"],
                    tags=tuple(tagged.get((row["repository"], row["digest"]), ())),
                    digest=row["digest"],
                    media_type=row["media_type"],
                    size=row["image_size"],
                    pushed_at=row["pushed_at"],
                )
                for row in rows
            ]

        return await self.db.run(load)

    async def link_blob(self, repository: str, digest: str) -> None:
        """Lets `repository` use a blob already in the store (after an upload, a mount or a pull).

        Raises BlobUnknown if the store does not have it. Touches the blob, so garbage collection's
        grace period protects it until a manifest references it.
        """
        check_repository(repository)
        check_digest(digest)
        await self.peers.ensure(digest)

        def link(conn: Connection) -> None:
            path = self.blobs.path(digest)
            try:
                os.utime(path)
            except FileNotFoundError:
                raise BlobUnknown(f"blob {digest} is not in the registry", {"digest": digest}) from None
            conn.execute(
                "INSERT INTO repository_blobs (repository, digest, linked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (repository, digest) DO UPDATE SET linked_at = excluded.linked_at",
                (repository, digest, time.time()),
            )

        await self.db.run(link)

    async def repository_has_blob(self, repository: str, digest: str) -> bool:
        """Whether the repository holds the blob, and this node has its bytes (fetched from a peer if need be)."""
        check_repository(repository)
        check_digest(digest)

        def linked(conn: Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM repository_blobs WHERE repository = ? AND digest = ?", (repository, digest)
            ).fetchone()
            return row is not None

        return await self.db.run(linked) and await self.peers.ensure(digest)

    async def unlink_blob(self, repository: str, digest: str) -> None:
        """Removes a blob from a repository (its content goes at the next GC); raises BlobUnknown."""
        check_repository(repository)
        check_digest(digest)

        def unlink(conn: Connection) -> int:
            return conn.execute(
                "DELETE FROM repository_blobs WHERE repository = ? AND digest = ?", (repository, digest)
            ).rowcount

        if not await self.db.run(unlink):
            raise BlobUnknown(f"blob {digest} is not in {repository}", {"digest": digest})
