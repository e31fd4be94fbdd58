"""The registry authorizes every request as the ecr: action AWS names for it, with IAM users' own keys."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages
from tests.integration.test_registry_protocol import error_code, image, push_blob, put_manifest

ACCOUNT = "000000000000"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = [*PULL, "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"]


def repository_arn(name: str) -> str:
    return f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}"


def user_keys(server: LambkinServer, name: str, actions: list[str], repository: str) -> tuple[str, str]:
    """A new IAM user allowed `actions` on one repository (none if `actions` is empty), and its key pair."""
    iam = server.client("iam")
    iam.create_user(UserName=name)
    if actions:
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": repository_arn(repository)}],
        }
        iam.put_user_policy(UserName=name, PolicyName="ecr", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def root_http(server: LambkinServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.endpoint, auth=(ACCESS_KEY_ID, SECRET_ACCESS_KEY), timeout=30) as c:
        yield c


def as_user(server: LambkinServer, keys: tuple[str, str]) -> httpx.Client:
    return httpx.Client(base_url=server.endpoint, auth=keys, timeout=30)


def test_a_reader_pulls_its_repository_and_nothing_else(
    server: LambkinServer, root_http: httpx.Client
) -> None:
    manifest = image(root_http, "team/app")
    assert put_manifest(root_http, "team/app", "v1", manifest).status_code == 201
    other = image(root_http, "team/other")
    assert put_manifest(root_http, "team/other", "v1", other).status_code == 201
    keys = user_keys(server, "reader", PULL, "team/app")
    with as_user(server, keys) as reader:
        assert reader.get("/v2/").status_code == 200  # signed in
        pulled = reader.get("/v2/team/app/manifests/v1", headers={"Accept": manifest["mediaType"]})
        assert pulled.status_code == 200 and json.loads(pulled.content) == manifest
        layer = manifest["layers"][0]["digest"]
        assert reader.get(f"/v2/team/app/blobs/{layer}").status_code == 200

        refused = reader.get("/v2/team/other/manifests/v1")
        assert refused.status_code == 403 and error_code(refused) == "DENIED"
        assert refused.json()["errors"][0]["message"] == (
            f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: ecr:BatchGetImage "
            f"on resource: {repository_arn('team/other')} "
            "because no identity-based policy allows the ecr:BatchGetImage action"
        )
        pushed = reader.put(
            "/v2/team/app/manifests/v2",
            content=json.dumps(manifest),
            headers={"Content-Type": manifest["mediaType"]},
        )
        assert pushed.status_code == 403 and "ecr:PutImage" in pushed.json()["errors"][0]["message"]
        upload = reader.post("/v2/team/app/blobs/uploads/")
        assert upload.status_code == 403 and "ecr:InitiateLayerUpload" in upload.text
        catalog = reader.get("/v2/_catalog")
        assert catalog.status_code == 403 and "ecr:DescribeRepositories" in catalog.text
    assert root_http.get("/v2/team/app/manifests/v2").status_code == 404  # nothing was written


def test_a_mount_needs_read_access_to_its_source(server: LambkinServer, root_http: httpx.Client) -> None:
    secret = push_blob(root_http, "private/src", b"a private layer")
    keys = user_keys(server, "mounter", PUSH, "mine/app")
    with as_user(server, keys) as mounter:
        mounted = mounter.post("/v2/mine/app/blobs/uploads/", params={"mount": secret, "from": "private/src"})
        assert mounted.status_code == 403 and "ecr:GetDownloadUrlForLayer" in mounted.text
        assert mounter.get(f"/v2/mine/app/blobs/{secret}").status_code == 404


def test_wrong_unknown_or_inactive_keys_are_unauthorized(server: LambkinServer) -> None:
    key_id, secret = user_keys(server, "forgetful", PULL, "team/app")
    assert httpx.get(f"{server.endpoint}/v2/", auth=(key_id, secret)).status_code == 200
    server.client("iam").update_access_key(UserName="forgetful", AccessKeyId=key_id, Status="Inactive")
    for auth in ((key_id, "not-the-secret"), ("AKIAUNKNOWNUNKNOWN00", "whatever"), (key_id, secret)):
        response = httpx.get(f"{server.endpoint}/v2/", auth=auth)
        assert response.status_code == 401 and error_code(response) == "UNAUTHORIZED"


@pytest.mark.slow
def test_skopeo_pushes_with_a_pushers_key_and_not_with_a_readers(
    server: LambkinServer, test_images: BuiltImages, tmp_path: Path
) -> None:
    source = f"oci-archive:{test_images.path('busybox')}"
    pusher = ":".join(user_keys(server, "pusher", PUSH, "shipped"))
    reader = ":".join(user_keys(server, "puller", PULL, "shipped"))

    def copy(creds: str, tag: str) -> subprocess.CompletedProcess[str]:
        target = f"docker://{server.registry}/shipped:{tag}"
        command = ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds, source, target]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert copy(pusher, "v1").returncode == 0
    refused = copy(reader, "v2")
    assert refused.returncode != 0 and "denied" in refused.stderr.lower()
    inspect = [
        "skopeo", "inspect", "--tls-verify=false", "--creds", reader, f"docker://{server.registry}/shipped:v1",
    ]  # fmt: skip
    done = subprocess.run(inspect, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    info: dict[str, Any] = json.loads(done.stdout)
    assert info["Name"].endswith("/shipped")


def test_no_one_deletes_a_managed_runtimes_image(server: LambkinServer, root_http: httpx.Client) -> None:
    manifest = image(root_http, "lambkin-runtimes/python3.12")
    assert put_manifest(root_http, "lambkin-runtimes/python3.12", "v1", manifest).status_code == 201
    digest = root_http.head(
        "/v2/lambkin-runtimes/python3.12/manifests/v1", headers={"Accept": manifest["mediaType"]}
    ).headers["Docker-Content-Digest"]
    for reference in ("v1", digest):  # not even the account's root: zip functions run on those digests
        refused = root_http.delete(f"/v2/lambkin-runtimes/python3.12/manifests/{reference}")
        assert refused.status_code == 403 and error_code(refused) == "DENIED"
        assert "managed runtime" in refused.json()["errors"][0]["message"]
    layer = manifest["layers"][0]["digest"]
    assert root_http.delete(f"/v2/lambkin-runtimes/python3.12/blobs/{layer}").status_code == 403
    kept = root_http.get(
        "/v2/lambkin-runtimes/python3.12/manifests/v1", headers={"Accept": manifest["mediaType"]}
    )
    assert kept.status_code == 200
    own = image(root_http, "team/deletable")  # another repository's image the root may delete
    assert put_manifest(root_http, "team/deletable", "v1", own).status_code == 201
    assert root_http.delete("/v2/team/deletable/manifests/v1").status_code in (202, 204)
