"""The registry never serves a blob whose bytes no longer match its digest as if it were sound."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer


@pytest.fixture(scope="module")
def http(server: LambkinServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.endpoint, auth=(ACCESS_KEY_ID, SECRET_ACCESS_KEY), timeout=30
    ) as client:
        yield client


def push_blob(http: httpx.Client, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    return digest


def corrupt(server: LambkinServer, digest: str) -> None:
    """Flips one byte in the middle of the stored blob (same size: what a bad disk does)."""
    hexdigest = digest.removeprefix("sha256:")
    path = Path(server.data_dir) / "blobs" / "sha256" / hexdigest[:2] / hexdigest
    with path.open("r+b") as stored:
        stored.seek(path.stat().st_size // 2)
        byte = stored.read(1)
        stored.seek(-1, os.SEEK_CUR)
        stored.write(bytes([byte[0] ^ 0xFF]))


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


def test_a_corrupt_small_blob_is_blob_unknown_until_pushed_again(
    server: LambkinServer, http: httpx.Client
) -> None:
    data = b'{"architecture": "amd64", "os": "linux"}'
    digest = push_blob(http, "rotten", data)
    corrupt(server, digest)

    refused = http.get(f"/v2/rotten/blobs/{digest}")
    assert (refused.status_code, error_code(refused)) == (404, "BLOB_UNKNOWN")
    assert http.head(f"/v2/rotten/blobs/{digest}").status_code == 404

    push_blob(http, "rotten", data)
    again = http.get(f"/v2/rotten/blobs/{digest}")
    assert (again.status_code, again.content) == (200, data)


def test_a_corrupt_large_blob_is_never_delivered_whole(server: LambkinServer, http: httpx.Client) -> None:
    sound, data = os.urandom(3 << 20), os.urandom(3 << 20)
    sound_digest, digest = push_blob(http, "big", sound), push_blob(http, "big", data)
    assert http.get(f"/v2/big/blobs/{digest}").content == data  # verified once, whole
    corrupt(server, digest)

    assert http.get(f"/v2/big/blobs/{sound_digest}").content == sound
    with pytest.raises(httpx.HTTPError):  # the answer stops short of its Content-Length
        http.get(f"/v2/big/blobs/{digest}")
    refused = http.get(f"/v2/big/blobs/{digest}")
    assert (refused.status_code, error_code(refused)) == (404, "BLOB_UNKNOWN")
