"""The layer store: one unpack per diff ID however many ask at once; a rejected layer leaves nothing."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from lambkin.images.blobs import BlobStore
from lambkin.images.layers import LayerStore
from lambkin.images.unpack import DiffIdMismatch, LayerRejected
from tests.unit.images.layer_tars import file, symlink, write_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking owners and whiteouts needs root")


def stored_layer(tmp_path: Path, blobs: BlobStore, entries: list) -> tuple[str, str]:  # type: ignore[type-arg]
    blob = tmp_path / "layer.blob"
    diff_id = write_layer(blob, entries, "gzip")
    return blobs.put_bytes(blob.read_bytes()), diff_id


async def test_concurrent_requests_for_one_layer_unpack_it_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    store = LayerStore(tmp_path / "layers", blobs)
    digest, diff_id = stored_layer(tmp_path, blobs, [file("app/main.py", b"print(1)\n")])
    caplog.set_level(logging.INFO, logger="lambkin.images")

    paths = await asyncio.gather(*(store.ensure(digest, diff_id) for _ in range(8)))

    assert set(paths) == {store.path(diff_id)}
    assert (store.path(diff_id) / "app/main.py").read_bytes() == b"print(1)\n"
    assert sum("unpacked layer" in r.getMessage() for r in caplog.records) == 1
    assert list(store.diff_ids()) == [diff_id]


async def test_a_hostile_layer_leaves_nothing_behind(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    store = LayerStore(tmp_path / "layers", blobs)
    digest, diff_id = stored_layer(
        tmp_path, blobs, [file("a", b"fine"), symlink("l", "/etc"), file("l/evil", b"x")]
    )

    with pytest.raises(LayerRejected, match="symbolic link l"):
        await store.ensure(digest, diff_id)

    assert not store.exists(diff_id)
    assert list(store.diff_ids()) == []
    assert list(store.staging.iterdir()) == []


async def test_a_layer_whose_diff_id_is_wrong_is_not_stored(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    store = LayerStore(tmp_path / "layers", blobs)
    digest, _ = stored_layer(tmp_path, blobs, [file("a", b"a")])
    wrong = "sha256:" + "1" * 64

    with pytest.raises(DiffIdMismatch):
        await store.ensure(digest, wrong)

    assert not store.exists(wrong)
    assert list(store.staging.iterdir()) == []


def test_staging_left_by_a_dead_process_is_removed(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    LayerStore(tmp_path / "layers", blobs)
    abandoned = tmp_path / "layers/.staging/999999999-abc"
    (abandoned / "half").mkdir(parents=True)

    LayerStore(tmp_path / "layers", blobs)

    assert not abandoned.exists()
