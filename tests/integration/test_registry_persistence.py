"""What the registry keeps across restarts and interrupted pushes: nothing accepted is lost, nothing corrupt."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
AUTH = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """A server of this module's own, since its tests restart it."""
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data").start()
    try:
        yield instance
    finally:
        instance.stop()


def client(server: LambkinServer) -> httpx.Client:
    return httpx.Client(base_url=server.endpoint, auth=AUTH, timeout=30)


def send_truncated(server: LambkinServer, method: str, path: str, announced: int, body: bytes) -> None:
    """Sends a request that announces `announced` body bytes, sends only `body`, and hangs up."""
    token = httpx.BasicAuth(*AUTH)._auth_header
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {server.registry}\r\nAuthorization: {token}\r\n"
        f"Content-Length: {announced}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head.encode() + body)


def test_pushed_images_survive_kill_and_restart(own_server: LambkinServer) -> None:
    layer, config = b"layer bytes" * 1000, b'{"architecture":"amd64","os":"linux"}'
    with client(own_server) as http:
        for blob in (layer, config):
            http.post("/v2/keep/app/blobs/uploads/", params={"digest": digest_of(blob)}, content=blob)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(layer), "size": len(layer)}],
            }
        ).encode()  # fmt: skip
        put = http.put("/v2/keep/app/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST})
        assert put.status_code == 201

    own_server.restart(kill=True)

    with client(own_server) as http:
        got = http.get("/v2/keep/app/manifests/v1")
        assert got.content == manifest and got.headers["docker-content-digest"] == digest_of(manifest)
        assert http.get(f"/v2/keep/app/blobs/{digest_of(layer)}").content == layer
        assert http.get("/v2/keep/app/tags/list").json()["tags"] == ["v1"]
        assert "keep/app" in http.get("/v2/_catalog").json()["repositories"]


def test_chunked_upload_resumes_after_a_restart(own_server: LambkinServer) -> None:
    data = bytes(range(256)) * 1000
    with client(own_server) as http:
        location = http.post("/v2/resume/app/blobs/uploads/").headers["location"]
        http.patch(location, content=data[:100_000], headers={"Content-Range": "0-99999"})

    own_server.restart(kill=True)

    with client(own_server) as http:
        status = http.get(location)
        assert status.status_code == 204 and status.headers["range"] == "0-99999"
        rest = http.patch(
            location, content=data[100_000:], headers={"Content-Range": f"100000-{len(data) - 1}"}
        )
        assert rest.status_code == 202
        done = http.put(location, params={"digest": digest_of(data)})
        assert done.status_code == 201, done.text
        assert http.get(f"/v2/resume/app/blobs/{digest_of(data)}").content == data


def test_a_chunk_cut_off_midway_is_dropped_and_the_upload_continues(own_server: LambkinServer) -> None:
    data = b"x" * 50_000 + b"y" * 50_000
    with client(own_server) as http:
        location = http.post("/v2/cut/app/blobs/uploads/").headers["location"]
        http.patch(location, content=data[:10_000], headers={"Content-Range": "0-9999"})
        send_truncated(own_server, "PATCH", location, 90_000, data[10_000:40_000])
        # The server notices the hang-up on its own schedule; until then the upload is busy.
        for _ in range(200):
            resumed = http.patch(
                location, content=data[10_000:], headers={"Content-Range": f"10000-{len(data) - 1}"}
            )
            if resumed.status_code != 400:
                break
            time.sleep(0.05)
        assert resumed.status_code == 202, resumed.text
        assert resumed.headers["range"] == f"0-{len(data) - 1}"
        assert http.put(location, params={"digest": digest_of(data)}).status_code == 201
        assert http.get(f"/v2/cut/app/blobs/{digest_of(data)}").content == data


def test_a_truncated_monolithic_upload_stores_nothing(own_server: LambkinServer) -> None:
    data = b"z" * 100_000
    send_truncated(
        own_server, "POST", f"/v2/cut/mono/blobs/uploads/?digest={digest_of(data)}", len(data), data[:60_000]
    )
    with client(own_server) as http:
        assert http.head(f"/v2/cut/mono/blobs/{digest_of(data)}").status_code == 404
        retry = http.post("/v2/cut/mono/blobs/uploads/", params={"digest": digest_of(data)}, content=data)
        assert retry.status_code == 201
        assert http.get(f"/v2/cut/mono/blobs/{digest_of(data)}").content == data


def test_a_client_hanging_up_mid_download_leaves_the_registry_serving(own_server: LambkinServer) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB
    with client(own_server) as http:
        digest = http.post(
            "/v2/hangup/app/blobs/uploads/", params={"digest": digest_of(data)}, content=data
        ).headers["docker-content-digest"]
        for _ in range(3):
            with http.stream("GET", f"/v2/hangup/app/blobs/{digest}") as response:
                next(response.iter_raw(65536))  # read a little, then hang up
        assert http.get(f"/v2/hangup/app/blobs/{digest}").content == data
    log = own_server.log()
    assert "Exception in ASGI application" not in log and "registry: GET" not in log
