"""Registries the pull probes own: a tiny OCI registry on a loopback address, and a blob store it redirects to."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.unit.images.layer_tars import file, tar_bytes

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Image:
    """One linux/amd64 image of one gzip layer holding `text`: its manifest and blobs by digest."""

    def __init__(self, text: str) -> None:
        raw = tar_bytes([file("hello.txt", text.encode())])
        layer = gzip.compress(raw, mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Entrypoint": ["/bin/true"]},
                "rootfs": {"type": "layers", "diff_ids": [_digest(raw)]},
            }
        ).encode()
        self.blobs = {_digest(layer): layer, _digest(config): config}
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _digest(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": _digest(layer),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        self.layer_digest = _digest(layer)


class Server:
    """An HTTP server on `host`:`port` (a loopback address; port 0: any free one), in a thread, that records the paths asked of it.

    As a registry it serves `image` under any repository and tag; with `redirect_to` (a base URL) it
    answers each layer blob with a 307 there, as registries backed by S3 or a CDN do; with `realm` it
    answers every request with a bearer challenge naming that token service. As a blob store
    (no image) it serves `/blobs/<digest>` of the image it is given as `store`.
    """

    def __init__(
        self,
        image: Image,
        host: str = "127.0.0.1",
        port: int = 0,
        redirect_to: str | None = None,
        store: bool = False,
        realm: str | None = None,
    ) -> None:
        self.image = image
        self.redirect_to = redirect_to
        self.realm = realm
        self.store = store
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                status, headers, body = owner.answer(self.path)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer((host, port), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.http.server_address[:2]
        return f"{host!s}:{port}"

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        digest = path.rsplit("/", 1)[-1]
        if self.store:
            found = self.image.blobs.get(digest) if path.startswith("/blobs/") else None
            return (200, {}, found) if found is not None else (404, {}, b"")
        if self.realm is not None:
            return 401, {"WWW-Authenticate": f'Bearer realm="{self.realm}",service="registry"'}, b""
        if path == "/v2/":
            return 200, {"Content-Type": "application/json"}, b"{}"
        if "/manifests/" in path:
            headers = {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": _digest(self.image.manifest)}
            return 200, headers, self.image.manifest
        if "/blobs/" in path and digest in self.image.blobs:
            if self.redirect_to and digest == self.image.layer_digest:
                return 307, {"Location": f"{self.redirect_to}/blobs/{digest}"}, b""
            return 200, {}, self.image.blobs[digest]
        return 404, {}, b""

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
