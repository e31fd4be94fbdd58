"""An image unpacks within the server's bounds on uncompressed size and files, or fails with a clear reason."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from tests.e2e.lambda_support import create
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.unit.images.layer_tars import Entry, file, tar_bytes

MAX_SIZE = 1_000_000
MAX_FILES = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    limits = {"LAMBKIN_IMAGE_MAX_SIZE": str(MAX_SIZE), "LAMBKIN_IMAGE_MAX_FILES": str(MAX_FILES)}
    instance = LambkinServer(Path(tmp_path_factory.mktemp("lambkin")) / "data", env=limits).start()
    try:
        yield instance
    finally:
        instance.stop()


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def push_layers(server: LambkinServer, layout: Path, name: str, layers: list[list[Entry]]) -> str:
    """Pushes an image of these gzip layers (bottom first) to the server with skopeo; returns its URI."""
    raws = [tar_bytes(entries) for entries in layers]
    descriptors = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            **_blob(layout, gzip.compress(raw, mtime=0)),
        }
        for raw in raws
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/bin/true"]},
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in raws],
        },
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            **_blob(layout, json.dumps(config).encode()),
        },
        "layers": descriptors,
    }
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **_blob(layout, json.dumps(manifest).encode()),
    }
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    uri = f"{server.registry}/{name}:v1"
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"--dest-creds={ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}",
         f"oci:{layout}", f"docker://{uri}"],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return uri


def settled(lam: Any, name: str) -> dict[str, Any]:
    """The function's configuration once it left Pending (Active or Failed)."""
    with contextlib.suppress(WaiterError):  # the waiter gives up at once on Failed
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )
    config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
    return config


def test_an_image_within_the_bounds_becomes_active(server: LambkinServer, tmp_path: Path) -> None:
    uri = push_layers(
        server, tmp_path, "small", [[file("a", b"x" * (MAX_SIZE // 3))], [file("b", b"y" * (MAX_SIZE // 3))]]
    )
    lam = server.client("lambda")
    create(lam, "small", uri)

    assert settled(lam, "small")["State"] == "Active"


def test_a_gzip_bomb_fails_the_function_with_the_size_limit(server: LambkinServer, tmp_path: Path) -> None:
    # Two layers that each fit, 1.2 MB together (a few kB compressed): the bound is the image's.
    uri = push_layers(
        server,
        tmp_path,
        "bomb",
        [[file("a", bytes(MAX_SIZE * 6 // 10))], [file("b", bytes(MAX_SIZE * 6 // 10))]],
    )
    lam = server.client("lambda")
    create(lam, "bomb", uri)

    config = settled(lam, "bomb")
    assert (config["State"], config["StateReasonCode"]) == ("Failed", "InvalidImage")
    assert f"Uncompressed image size must be smaller than {MAX_SIZE} bytes" in config["StateReason"]
    assert config["LastUpdateStatus"] == "Failed"


def test_too_many_files_fail_the_function_with_the_file_limit(server: LambkinServer, tmp_path: Path) -> None:
    uri = push_layers(server, tmp_path, "many", [[file(f"f{i}") for i in range(MAX_FILES + 1)]])
    lam = server.client("lambda")
    create(lam, "many", uri)

    config = settled(lam, "many")
    assert (config["State"], config["StateReasonCode"]) == ("Failed", "InvalidImage")
    assert f"An image may hold at most {MAX_FILES} files" in config["StateReason"]
