"""The registry's OCI distribution API, driven with raw HTTP exactly as the spec describes it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def http(server: LambkinServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.endpoint, auth=(ACCESS_KEY_ID, SECRET_ACCESS_KEY), timeout=30
    ) as client:
        yield client


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body["errors"][0]) == {"code", "message", "detail"}
    code: str = body["errors"][0]["code"]
    return code


def push_blob(http: httpx.Client, repo: str, data: bytes) -> str:
    digest = digest_of(data)
    response = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    return digest


def image(http: httpx.Client, repo: str, layers: list[bytes] | None = None) -> dict[str, Any]:
    """Pushes a config and layers; returns the manifest that names them."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    layers = layers if layers is not None else [b"layer-" + repo.encode()]
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": push_blob(http, repo, config), "size": len(config)},
        "layers": [
            {"mediaType": OCI_LAYER, "digest": push_blob(http, repo, data), "size": len(data)}
            for data in layers
        ],
    }


def put_manifest(
    http: httpx.Client, repo: str, ref: str, doc: Any, media_type: str = OCI_MANIFEST
) -> httpx.Response:
    return http.put(
        f"/v2/{repo}/manifests/{ref}", content=json.dumps(doc), headers={"Content-Type": media_type}
    )


def test_base_endpoint_needs_credentials(server: LambkinServer, http: httpx.Client) -> None:
    assert http.get("/v2/").status_code == 200
    anonymous = httpx.get(f"{server.endpoint}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Basic realm="lambkin"'
    assert error_code(anonymous) == "UNAUTHORIZED"
    wrong = httpx.get(f"{server.endpoint}/v2/_catalog", auth=(ACCESS_KEY_ID, "wrong"))
    assert wrong.status_code == 401 and error_code(wrong) == "UNAUTHORIZED"
    bearer = httpx.get(f"{server.endpoint}/v2/", headers={"Authorization": "Bearer abc"})
    assert bearer.status_code == 401


def test_chunked_upload_follows_location_and_reports_range(http: httpx.Client) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    start = http.post("/v2/chunked/app/blobs/uploads/")
    assert start.status_code == 202
    location, upload_id = start.headers["location"], start.headers["docker-upload-uuid"]
    assert location.endswith(upload_id) and start.headers["range"] == "0-0"

    first = http.patch(location, content=data[:300_000], headers={"Content-Range": "0-299999"})
    assert first.status_code == 202 and first.headers["range"] == "0-299999"
    out_of_order = http.patch(
        first.headers["location"], content=data[500_000:600_000], headers={"Content-Range": "500000-599999"}
    )
    assert out_of_order.status_code == 416 and error_code(out_of_order) == "RANGE_INVALID"
    assert out_of_order.headers["range"] == "0-299999"

    status = http.get(location)
    assert status.status_code == 204 and status.headers["range"] == "0-299999"
    second = http.patch(location, content=data[300_000:700_000])  # streamed, no Content-Range
    assert second.headers["range"] == "0-699999"

    digest = digest_of(data)
    done = http.put(
        second.headers["location"],
        params={"digest": digest},
        content=data[700_000:],
        headers={"Content-Range": f"700000-{len(data) - 1}"},
    )
    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == digest
    assert done.headers["location"] == f"/v2/chunked/app/blobs/{digest}"
    assert http.get(done.headers["location"]).content == data
    assert http.get(location).status_code == 404  # the upload is gone once finished


def test_finishing_with_the_wrong_digest_is_refused(http: httpx.Client) -> None:
    location = http.post("/v2/badput/blobs/uploads/").headers["location"]
    http.patch(location, content=b"some bytes")
    wrong = digest_of(b"other bytes")
    response = http.put(location, params={"digest": wrong})
    assert response.status_code == 400 and error_code(response) == "DIGEST_INVALID"
    assert http.head(f"/v2/badput/blobs/{wrong}").status_code == 404
    assert http.get(location).status_code == 404
    missing = http.put(http.post("/v2/badput/blobs/uploads/").headers["location"])
    assert missing.status_code == 400 and error_code(missing) == "DIGEST_INVALID"


def test_monolithic_upload_checks_the_digest(http: httpx.Client) -> None:
    response = http.post("/v2/mono/blobs/uploads/", params={"digest": digest_of(b"x")}, content=b"y")
    assert response.status_code == 400 and error_code(response) == "DIGEST_INVALID"
    malformed = http.post("/v2/mono/blobs/uploads/", params={"digest": "sha256:nothex"}, content=b"y")
    assert malformed.status_code == 400 and error_code(malformed) == "DIGEST_INVALID"
    digest = push_blob(http, "mono", b"y")
    head = http.head(f"/v2/mono/blobs/{digest}")
    assert head.status_code == 200 and head.headers["content-length"] == "1"
    assert head.headers["docker-content-digest"] == digest


def test_post_then_put_is_a_monolithic_upload_too(http: httpx.Client) -> None:
    location = http.post("/v2/postput/blobs/uploads/").headers["location"]
    digest = digest_of(b"whole blob")
    assert http.put(location, params={"digest": digest}, content=b"whole blob").status_code == 201
    assert http.get(f"/v2/postput/blobs/{digest}").content == b"whole blob"


def test_cancelled_upload_is_unknown(http: httpx.Client) -> None:
    location = http.post("/v2/cancel/blobs/uploads/").headers["location"]
    assert http.delete(location).status_code == 204
    gone = http.patch(location, content=b"late")
    assert gone.status_code == 404 and error_code(gone) == "BLOB_UPLOAD_UNKNOWN"
    other_repo = http.post("/v2/cancel/blobs/uploads/").headers["location"].replace("/cancel/", "/elsewhere/")
    assert error_code(http.get(other_repo)) == "BLOB_UPLOAD_UNKNOWN"


def test_blob_range_requests(http: httpx.Client) -> None:
    data = b"0123456789" * 10
    digest = push_blob(http, "ranges", data)
    part = http.get(f"/v2/ranges/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert http.get(f"/v2/ranges/blobs/{digest}", headers={"Range": "bytes=95-"}).content == data[95:]
    assert http.get(f"/v2/ranges/blobs/{digest}", headers={"Range": "bytes=-3"}).content == data[-3:]
    beyond = http.get(f"/v2/ranges/blobs/{digest}", headers={"Range": "bytes=500-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_unknown_blob_and_bad_names(http: httpx.Client) -> None:
    unknown = http.get(f"/v2/nothing/blobs/{digest_of(b'never pushed')}")
    assert unknown.status_code == 404 and error_code(unknown) == "BLOB_UNKNOWN"
    assert error_code(http.get("/v2/Upper/Case/tags/list")) == "NAME_INVALID"
    assert error_code(http.get("/v2/nothing/tags/list")) == "NAME_UNKNOWN"
    assert error_code(http.get("/v2/nothing/blobs/md5:abc")) == "DIGEST_INVALID"
    assert http.get("/v2/nothing/unknown-endpoint").status_code == 404


def test_cross_repository_mount(http: httpx.Client) -> None:
    digest = push_blob(http, "mount/source", b"shared layer")
    assert http.head(f"/v2/mount/target/blobs/{digest}").status_code == 404  # blobs are per repository
    mounted = http.post("/v2/mount/target/blobs/uploads/", params={"mount": digest, "from": "mount/source"})
    assert mounted.status_code == 201 and mounted.headers["docker-content-digest"] == digest
    assert http.get(f"/v2/mount/target/blobs/{digest}").content == b"shared layer"
    fallback = http.post(
        "/v2/mount/target/blobs/uploads/", params={"mount": digest_of(b"absent"), "from": "mount/source"}
    )
    assert fallback.status_code == 202 and "docker-upload-uuid" in fallback.headers


def test_manifest_by_tag_and_digest(http: httpx.Client) -> None:
    doc = image(http, "manifests/app")
    raw = json.dumps(doc).encode()
    put = put_manifest(http, "manifests/app", "v1", doc)
    assert put.status_code == 201, put.text
    digest = digest_of(raw)
    assert put.headers["docker-content-digest"] == digest
    assert put.headers["location"] == f"/v2/manifests/app/manifests/{digest}"
    for ref in ("v1", digest):
        got = http.get(f"/v2/manifests/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert got.status_code == 200 and got.content == raw
        assert got.headers["content-type"] == OCI_MANIFEST and got.headers["docker-content-digest"] == digest
        head = http.head(f"/v2/manifests/app/manifests/{ref}")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(raw))
    by_digest = http.put(
        f"/v2/manifests/app/manifests/{digest}", content=raw, headers={"Content-Type": OCI_MANIFEST}
    )
    assert by_digest.status_code == 201
    wrong = http.put(
        f"/v2/manifests/app/manifests/{digest_of(b'x')}", content=raw, headers={"Content-Type": OCI_MANIFEST}
    )
    assert wrong.status_code == 400 and error_code(wrong) == "DIGEST_INVALID"


def test_manifest_errors(http: httpx.Client) -> None:
    doc = image(http, "broken")
    missing = dict(doc, layers=[{"mediaType": OCI_LAYER, "digest": digest_of(b"missing"), "size": 7}])
    response = put_manifest(http, "broken", "v1", missing)
    assert response.status_code == 400 and error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert response.json()["errors"][0]["detail"] == {"digest": digest_of(b"missing")}
    malformed = http.put(
        "/v2/broken/manifests/v1", content=b"{not json", headers={"Content-Type": OCI_MANIFEST}
    )
    assert malformed.status_code == 400 and error_code(malformed) == "MANIFEST_INVALID"
    unknown_type = put_manifest(http, "broken", "v1", doc, "application/vnd.example.unknown+json")
    assert unknown_type.status_code == 415 and error_code(unknown_type) == "UNSUPPORTED"
    schema1 = put_manifest(
        http,
        "broken",
        "v1",
        {"schemaVersion": 1, "fsLayers": []},
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    )
    assert error_code(schema1) == "UNSUPPORTED"
    bad_tag = put_manifest(http, "broken", "-bad-tag", doc)
    assert bad_tag.status_code == 400 and error_code(bad_tag) == "TAG_INVALID"
    unknown = http.get("/v2/broken/manifests/v1")
    assert unknown.status_code == 404 and error_code(unknown) == "MANIFEST_UNKNOWN"


def test_index_needs_its_child_manifests(http: httpx.Client) -> None:
    child = json.dumps(image(http, "multi")).encode()
    child_ref = {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(child),
        "size": len(child),
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child_ref]}
    early = put_manifest(http, "multi", "latest", index, OCI_INDEX)
    assert early.status_code == 400 and error_code(early) == "MANIFEST_BLOB_UNKNOWN"
    http.put(f"/v2/multi/manifests/{digest_of(child)}", content=child, headers={"Content-Type": OCI_MANIFEST})
    assert put_manifest(http, "multi", "latest", index, OCI_INDEX).status_code == 201
    assert http.get("/v2/multi/manifests/latest").headers["content-type"] == OCI_INDEX


def test_delete_tag_and_manifest(http: httpx.Client) -> None:
    doc = image(http, "deletes")
    digest = put_manifest(http, "deletes", "a", doc).headers["docker-content-digest"]
    put_manifest(http, "deletes", "b", doc)
    assert http.delete("/v2/deletes/manifests/a").status_code == 202
    assert http.get("/v2/deletes/tags/list").json()["tags"] == ["b"]
    assert http.delete(f"/v2/deletes/manifests/{digest}").status_code == 202
    assert http.get("/v2/deletes/manifests/b").status_code == 404
    assert error_code(http.delete(f"/v2/deletes/manifests/{digest}")) == "MANIFEST_UNKNOWN"


def test_tag_list_and_catalog_pagination(http: httpx.Client) -> None:
    doc = image(http, "paged")
    for tag in ("c", "a", "b", "d"):
        assert put_manifest(http, "paged", tag, doc).status_code == 201
    assert http.get("/v2/paged/tags/list").json() == {"name": "paged", "tags": ["a", "b", "c", "d"]}
    page = http.get("/v2/paged/tags/list", params={"n": 2})
    assert page.json()["tags"] == ["a", "b"]
    assert page.headers["link"] == '</v2/paged/tags/list?n=2&last=b>; rel="next"'
    rest = http.get(page.headers["link"].split(";")[0].strip("<>"))
    assert rest.json()["tags"] == ["c", "d"] and "link" not in rest.headers
    assert http.get("/v2/paged/tags/list", params={"n": 0}).json()["tags"] == []
    assert error_code(http.get("/v2/paged/tags/list", params={"n": "x"})) == "PAGINATION_NUMBER_INVALID"
    repositories = http.get("/v2/_catalog").json()["repositories"]
    assert "paged" in repositories and repositories == sorted(repositories)
    first = http.get("/v2/_catalog", params={"n": 1})
    assert len(first.json()["repositories"]) == 1 and 'rel="next"' in first.headers["link"]


def test_referrers_list_artifacts_that_name_a_subject(http: httpx.Client) -> None:
    subject_raw = json.dumps(image(http, "refs/app")).encode()
    subject = put_manifest(http, "refs/app", "v1", json.loads(subject_raw)).headers["docker-content-digest"]
    empty = push_blob(http, "refs/app", b"{}")
    signature = push_blob(http, "refs/app", b"a signature")
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": signature, "size": 11}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(subject_raw)},
        "annotations": {"org.example.signed-by": "tests"},
    }
    pushed = put_manifest(http, "refs/app", digest_of(json.dumps(artifact).encode()), artifact)
    assert pushed.status_code == 201 and pushed.headers["oci-subject"] == subject

    listed = http.get(f"/v2/refs/app/referrers/{subject}")
    assert listed.status_code == 200 and listed.headers["content-type"] == OCI_INDEX
    assert listed.json()["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": pushed.headers["docker-content-digest"],
            "size": len(json.dumps(artifact)),
            "artifactType": "application/vnd.example.signature",
            "annotations": {"org.example.signed-by": "tests"},
        }
    ]
    filtered = http.get(f"/v2/refs/app/referrers/{subject}", params={"artifactType": "application/x-other"})
    assert filtered.json()["manifests"] == [] and filtered.headers["oci-filters-applied"] == "artifactType"
    http.delete(f"/v2/refs/app/manifests/{pushed.headers['docker-content-digest']}")
    assert http.get(f"/v2/refs/app/referrers/{subject}").json()["manifests"] == []
