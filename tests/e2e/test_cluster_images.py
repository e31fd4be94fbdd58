"""Images on every node of a cluster: two `lambkin server` nodes on one PostgreSQL, each with its own data
directory and blobs. A push to either is visible from both, a blob a node lacks is fetched from the other and
verified, and a function created through one node cold-starts on the other."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.config import Config

from lambkin.cluster import rendezvous
from tests import postgres
from tests.e2e.lambda_support import create, create_active, execution_role, tiny_layout
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer, free_port
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

AUTH = (ACCESS_KEY_ID, SECRET_ACCESS_KEY)
BALANCER = "registry.cluster.test:5000"  # the name image URIs give a load balancer in front of the nodes


def _node(root: Path, name: str, database: str) -> LambkinServer:
    port = free_port()
    env = {
        "LAMBKIN_DATABASE_URL": database,
        "LAMBKIN_NODE_NAME": name,
        "LAMBKIN_ADVERTISE": f"http://127.0.0.1:{port}",
        "LAMBKIN_REGISTRY_NAMES": BALANCER,
    }
    return LambkinServer(root / name / "data", port=port, env=env)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LambkinServer, LambkinServer]]:
    """Nodes a and b on one fresh database, started (the functions' role made first), and b able to fetch
    a's blobs (it has heard from a)."""
    root = Path(tmp_path_factory.mktemp("cluster"))
    database = postgres.shared().create_database("cluster")
    a, b = _node(root, "a", database), _node(root, "b", database)
    a.start()
    try:
        # The role before b starts: b reads IAM at start (news of later changes is not this file's subject).
        execution_role(a.endpoint)
        b.start()
        try:
            _until_b_fetches_from_a(a, b, root)
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def _until_b_fetches_from_a(a: LambkinServer, b: LambkinServer, root: Path) -> None:
    layout = tiny_layout(root / "probe", "probe")
    _skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{a.registry}/probe:v1")
    layer = _manifest(layout)["layers"][0]["digest"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.head(f"{b.endpoint}/v2/probe/blobs/{layer}", auth=AUTH).status_code == 200:
            return
        time.sleep(0.2)
    raise TimeoutError(f"node b never fetched a blob from node a:\n{b.log()}")


def homed_on_b(name: str) -> str:
    """A function name beginning `name` whose $LATEST placement sends to node b (its first home by
    rendezvous), so an invoke through b runs there: b must fetch the blobs itself."""
    for i in range(1000):
        candidate = f"{name}-{i}"
        arn = f"arn:aws:lambda:us-east-1:000000000000:function:{candidate}"
        if rendezvous.owner(f"{arn}:$LATEST", ["a", "b"]) == "b":
            return candidate
    raise AssertionError("no name homed on b")


def _skopeo(*args: str) -> str:
    key = f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"
    creds = [f"--src-creds={key}", f"--dest-creds={key}"] if args[0] == "copy" else [f"--creds={key}"]
    done = subprocess.run(
        ["skopeo", args[0], *creds, *args[1:]], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _manifest(layout: Path) -> dict[str, Any]:
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest: dict[str, Any] = json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
    return manifest


def _blob_file(node: LambkinServer, digest: str) -> Path:
    hexdigest = digest.split(":", 1)[1]
    return node.data_dir / "blobs" / "sha256" / hexdigest[:2] / hexdigest


def _lambda(node: LambkinServer) -> Any:
    return node.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


def test_a_function_created_through_one_node_cold_starts_on_the_other(
    nodes: tuple[LambkinServer, LambkinServer], test_images: BuiltImages
) -> None:
    a, b = nodes
    uri = test_images.push("python-handlers", a.registry, tag="v1")
    made_on_a = homed_on_b("made-on-a")
    create_active(_lambda(a), made_on_a, uri, ImageConfig={"Command": ["app.echo"]})
    raw = _skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{uri}")
    layers = [layer["digest"] for layer in json.loads(raw)["layers"]]
    assert not any(_blob_file(b, digest).exists() for digest in layers)

    answer = _lambda(b).invoke(FunctionName=made_on_a, Payload=json.dumps({"hello": "b"}))

    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"hello": "b"}
    assert all(_blob_file(b, digest).is_file() for digest in layers)  # b unpacked them itself
    assert "fetched from node a" in b.log()


@pytest.mark.parametrize("registry", ["node a's address", "the balancer's name"])
def test_an_image_pushed_to_one_node_is_the_clusters_whatever_address_a_uri_gives(
    nodes: tuple[LambkinServer, LambkinServer], test_images: BuiltImages, registry: str
) -> None:
    a, b = nodes
    pushed = test_images.push("python-handlers", a.registry, tag="v1")
    uri = pushed if registry == "node a's address" else pushed.replace(a.registry, BALANCER)
    name = "via-b-" + ("a" if uri == pushed else "balancer")

    created = create_active(_lambda(b), name, uri, ImageConfig={"Command": ["app.echo"]})  # resolved by b

    assert created["State"] == "Active"
    answer = _lambda(b).invoke(FunctionName=name, Payload=b'{"via": "b"}')
    assert json.loads(answer["Payload"].read()) == {"via": "b"}


def test_a_push_whose_requests_alternate_between_nodes_completes(
    nodes: tuple[LambkinServer, LambkinServer], tmp_path: Path
) -> None:
    a, b = nodes
    layout = tiny_layout(tmp_path / "layout", "pushed through both nodes")
    manifest = _manifest(layout)
    with httpx.Client(auth=AUTH, timeout=60) as client:
        turn = [a.endpoint, b.endpoint]

        def next_node() -> str:
            turn.reverse()
            return turn[0]

        for descriptor in [manifest["config"], *manifest["layers"]]:
            data = (layout / "blobs" / "sha256" / descriptor["digest"].split(":")[1]).read_bytes()
            started = client.post(f"{next_node()}/v2/both/blobs/uploads/")
            assert started.status_code == 202
            location = started.headers["location"]
            half = len(data) // 2
            first = client.patch(
                next_node() + location,
                content=iter([data[:half]]),  # chunked, as docker sends it
                headers={"content-range": f"0-{half - 1}", "content-type": "application/octet-stream"},
            )
            assert first.status_code == 202, first.text
            assert first.headers["range"] == f"0-{half - 1}"
            status = client.get(next_node() + first.headers["location"])
            assert status.status_code == 204 and status.headers["range"] == f"0-{half - 1}"
            done = client.put(
                next_node() + status.headers["location"],
                params={"digest": descriptor["digest"]},
                content=data[half:],
                headers={
                    "content-range": f"{half}-{len(data) - 1}",
                    "content-type": "application/octet-stream",
                },
            )
            assert done.status_code == 201, done.text
            assert done.headers["docker-content-digest"] == descriptor["digest"]
        raw = json.dumps(manifest).encode()
        put = client.put(
            f"{next_node()}/v2/both/manifests/v1",
            content=raw,
            headers={"content-type": manifest["mediaType"]},
        )
        assert put.status_code == 201, put.text

    for node in nodes:  # visible from both, each blob readable from both
        pulled = tmp_path / f"pulled-from-{node.port}"
        _skopeo("copy", "--src-tls-verify=false", f"docker://{node.registry}/both:v1", f"oci:{pulled}")
        assert _manifest(pulled) == manifest


def test_an_upload_held_by_a_node_that_is_gone_is_unknown(nodes: tuple[LambkinServer, LambkinServer]) -> None:
    a, _ = nodes
    gone = "0b1e9a8c-3f1d-4c56-9a0e-5d2f7c1b8e44.node-that-left"
    answer = httpx.patch(f"{a.endpoint}/v2/app/blobs/uploads/{gone}", content=b"x", auth=AUTH)
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_a_corrupted_peer_blob_is_refused(nodes: tuple[LambkinServer, LambkinServer], tmp_path: Path) -> None:
    a, b = nodes
    layout = tiny_layout(tmp_path / "layout", "damaged on node a's disk")
    _skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}", f"docker://{a.registry}/damaged:v1")
    layer = _manifest(layout)["layers"][0]["digest"]
    on_a = _blob_file(a, layer)
    damaged = bytearray(on_a.read_bytes())
    damaged[-1] ^= 0xFF
    on_a.write_bytes(bytes(damaged))

    answer = httpx.get(f"{b.endpoint}/v2/damaged/blobs/{layer}", auth=AUTH)

    assert answer.status_code == 404
    assert answer.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    assert not _blob_file(b, layer).exists()
    assert f"hashing to sha256:{hashlib.sha256(damaged).hexdigest()} for blob {layer}: refused" in b.log()


def test_an_image_no_live_node_holds_whole_is_unavailable(
    nodes: tuple[LambkinServer, LambkinServer], test_images: BuiltImages
) -> None:
    a, b = nodes
    uri = test_images.push("shell-runtime", a.registry, tag="v1")
    whole_only_on_a = homed_on_b("whole-only-on-a")
    create_active(_lambda(a), whole_only_on_a, uri, ImageConfig={"Command": ["echo"]})
    raw = _skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{uri}")
    lacking = [
        d for d in (layer["digest"] for layer in json.loads(raw)["layers"]) if not _blob_file(b, d).exists()
    ]
    assert lacking  # b has never unpacked this image's own layer
    for digest in lacking:  # a's copies rot: no live node holds them whole any more
        damaged = bytearray(_blob_file(a, digest).read_bytes())
        damaged[-1] ^= 0xFF
        _blob_file(a, digest).write_bytes(bytes(damaged))

    answer = _lambda(b).invoke(FunctionName=whole_only_on_a, Payload=b"{}")

    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Sandbox.Failure"
    assert f"{uri.rsplit(':', 1)[0]}@sha256:" in error["errorMessage"]
    assert "no live node holds its blob sha256:" in error["errorMessage"]
    assert not any(_blob_file(b, digest).exists() for digest in lacking)

    create(_lambda(b), "made-on-b-from-rot", uri, ImageConfig={"Command": ["echo"]})
    state = _settled(_lambda(b), "made-on-b-from-rot")
    assert (state["State"], state["StateReasonCode"]) == ("Failed", "ImageDeleted")
    assert state["StateReason"].startswith(
        f"Source image {uri} does not exist. Provide a valid source image."
    )


def _settled(client: Any, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        configuration: dict[str, Any] = client.get_function_configuration(FunctionName=name)
        if configuration["State"] != "Pending":
            return configuration
        time.sleep(0.2)
    raise TimeoutError(f"{name} stayed Pending")
