"""Helpers for the Lambda API tests: tiny OCI images pushed with skopeo, and the functions made from them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

ROLE = "arn:aws:iam::000000000000:role/lambkin-test"


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def tiny_layout(layout: Path, content: str) -> Path:
    """An OCI image layout holding one image whose only file is /content.txt (different content, digest)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = content.encode()
        info = tarfile.TarInfo("content.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer = _blob(layout, gzip.compress(raw.getvalue(), mtime=0))
    config = _blob(
        layout,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Entrypoint": ["/bin/true"], "WorkingDir": "/"},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
        ).encode(),
    )
    manifest = _blob(
        layout,
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
            }
        ).encode(),
    )
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest}],
    }
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def push(server: LambkinServer, workdir: Path, repository: str, tag: str, content: str) -> tuple[str, str]:
    """Pushes a tiny image to the server's registry with skopeo; returns (image URI, manifest digest)."""
    layout = tiny_layout(workdir / f"{repository}-{tag}-{hashlib.md5(content.encode()).hexdigest()}", content)
    uri = f"{server.registry}/{repository}:{tag}"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            f"--dest-creds={ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}",
            "--preserve-digests",
            f"oci:{layout}",
            f"docker://{uri}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    return uri, str(digest)


def create(client: Any, name: str, image_uri: str, **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = client.create_function(
        FunctionName=name, Role=ROLE, PackageType="Image", Code={"ImageUri": image_uri}, **extra
    )
    return response


def create_active(client: Any, name: str, image_uri: str, **extra: Any) -> dict[str, Any]:
    create(client, name, image_uri, **extra)
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
    )
    configuration: dict[str, Any] = client.get_function_configuration(FunctionName=name)
    return configuration
