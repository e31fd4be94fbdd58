"""A catalog on a temporary SQLite database and blob store, and helpers that make small images in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import MIGRATIONS, Catalog
from lambkin.images.manifests import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST
from lambkin.store import Store
from lambkin.store.sqlite import SqliteStore


@dataclass(frozen=True)
class Parts:
    db: Store
    blobs: BlobStore
    catalog: Catalog


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    db = SqliteStore(tmp_path / "lambkin.db")
    db.migrate(MIGRATIONS)
    blobs = BlobStore(tmp_path / "blobs")
    try:
        yield Parts(db, blobs, Catalog(db, blobs))
    finally:
        db.close()


def manifest_for(blobs: BlobStore, *layers: bytes) -> bytes:
    """Stores a config and `layers` as blobs; returns an OCI manifest naming them."""
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    descriptor = {"mediaType": OCI_CONFIG, "digest": blobs.put_bytes(config), "size": len(config)}
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor,
            "layers": [
                {"mediaType": OCI_LAYER_GZIP, "digest": blobs.put_bytes(layer), "size": len(layer)}
                for layer in layers
            ],
        }
    ).encode()


def index_for(*children: tuple[str, int, str]) -> bytes:
    """An OCI index of (digest, size, architecture) entries."""
    entries = [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": s, "platform": {"os": "linux", "architecture": a}}
        for d, s, a in children
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
