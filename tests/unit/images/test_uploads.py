"""Upload sessions: chunks in order, all-or-nothing chunks, digest checks, resuming without memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest

from lambkin.images.blobs import sha256_digest
from lambkin.images.errors import BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, RangeInvalid
from lambkin.images.uploads import Uploads
from tests.unit.images.catalog_fixtures import Parts, parts

__all__ = ["parts"]


async def body(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def broken_body(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
    raise ConnectionError("client went away")


@pytest.fixture
def uploads(parts: Parts) -> Uploads:
    return Uploads(parts.db, parts.blobs, parts.catalog)


async def test_chunks_in_order_make_the_blob(parts: Parts, uploads: Uploads) -> None:
    upload = await uploads.start("app")
    first = await uploads.append("app", upload.uuid, body(b"hello ", b"wor"), 0, 8)
    assert first.offset == 9
    with pytest.raises(RangeInvalid) as out_of_order:
        await uploads.append("app", upload.uuid, body(b"x"), 20, 20)
    assert out_of_order.value.detail == {"offset": 9}
    digest = await uploads.finish("app", upload.uuid, sha256_digest(b"hello world"), body(b"ld"), 9)
    assert parts.blobs.read(digest) == b"hello world"
    assert await parts.catalog.repository_has_blob("app", digest)
    with pytest.raises(BlobUploadUnknown):
        await uploads.status("app", upload.uuid)


async def test_a_chunk_that_breaks_off_is_not_kept(uploads: Uploads) -> None:
    upload = await uploads.start("app")
    await uploads.append("app", upload.uuid, body(b"abc"))
    with pytest.raises(ConnectionError):
        await uploads.append("app", upload.uuid, broken_body([b"def", b"ghi"]))
    assert (await uploads.status("app", upload.uuid)).offset == 3
    with pytest.raises(BlobUploadInvalid):
        await uploads.append("app", upload.uuid, body(b"de"), 3, 5)  # announced 3 bytes, sent 2
    assert (await uploads.status("app", upload.uuid)).offset == 3
    digest = await uploads.finish("app", upload.uuid, sha256_digest(b"abcdef"), body(b"def"))
    assert digest == sha256_digest(b"abcdef")


async def test_wrong_digest_discards_the_upload(parts: Parts, uploads: Uploads) -> None:
    upload = await uploads.start("app")
    await uploads.append("app", upload.uuid, body(b"content"))
    with pytest.raises(DigestInvalid):
        await uploads.finish("app", upload.uuid, sha256_digest(b"something else"), body())
    assert not parts.blobs.exists(sha256_digest(b"something else"))
    assert not parts.blobs.exists(sha256_digest(b"content"))
    with pytest.raises(BlobUploadUnknown):
        await uploads.status("app", upload.uuid)


async def test_an_upload_resumes_in_a_new_process(parts: Parts, uploads: Uploads) -> None:
    upload = await uploads.start("app")
    await uploads.append("app", upload.uuid, body(b"first half, "))
    restarted = Uploads(parts.db, parts.blobs, parts.catalog)  # nothing in memory: hash rebuilt from disk
    assert (await restarted.status("app", upload.uuid)).offset == 12
    with pytest.raises(BlobUploadUnknown):
        await restarted.status("other", upload.uuid)
    digest = await restarted.finish(
        "app", upload.uuid, sha256_digest(b"first half, second half"), body(b"second half")
    )
    assert parts.blobs.read(digest) == b"first half, second half"


async def test_monolithic_upload(parts: Parts, uploads: Uploads) -> None:
    digest = await uploads.put_whole("app", sha256_digest(b"whole"), body(b"who", b"le"))
    assert parts.blobs.read(digest) == b"whole"
    with pytest.raises(DigestInvalid):
        await uploads.put_whole("app", sha256_digest(b"x"), body(b"y"))
    assert list(parts.blobs.staging.iterdir()) == []


async def test_cancel_forgets_the_upload(parts: Parts, uploads: Uploads) -> None:
    upload = await uploads.start("app")
    await uploads.append("app", upload.uuid, body(b"data"))
    await uploads.cancel("app", upload.uuid)
    with pytest.raises(BlobUploadUnknown):
        await uploads.append("app", upload.uuid, body(b"more"))
    assert list(parts.blobs.staging.iterdir()) == []


async def test_on_a_cluster_an_upload_id_names_the_node_that_holds_it(parts: Parts) -> None:
    on_a = Uploads(parts.db, parts.blobs, parts.catalog, node="a")
    on_b = Uploads(parts.db, parts.blobs, parts.catalog, node="b")
    started = await on_a.start("app")

    assert started.uuid.endswith(".a")
    assert on_a.holder(started.uuid) is None  # a serves it itself
    assert on_b.holder(started.uuid) == "a"  # b sends it to a
    alone = Uploads(parts.db, parts.blobs, parts.catalog)
    assert alone.holder((await alone.start("app")).uuid) is None


@pytest.mark.parametrize(
    "upload_id", ["not-an-upload", "0b1e9a8c-3f1d-4c56-9a0e-5d2f7c1b8e44./etc", "x" * 36]
)
def test_an_id_no_node_makes_is_unknown(uploads: Uploads, upload_id: str) -> None:
    with pytest.raises(BlobUploadUnknown):
        uploads.holder(upload_id)
