"""Helpers for the Lambda API tests: tiny OCI images pushed with skopeo, and the functions made from them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

ROLE_NAME = "lambkin-test"
ROLE = f"arn:aws:iam::000000000000:role/{ROLE_NAME}"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
QUEUE_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"


@cache
def _iam(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


def execution_role(endpoint: str, name: str = ROLE_NAME) -> str:
    """The ARN of the role `name` (lambkin-test: ROLE in the default account), created on the server at
    `endpoint` unless it is there already, as a user creates a function's role: a trust policy for
    lambda.amazonaws.com and AWSLambdaBasicExecutionRole attached."""
    iam = _iam(endpoint)
    try:
        created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_EXECUTION)
    return str(created["Role"]["Arn"])


def allow_queue_polling(endpoint: str) -> None:
    """Lets the role lambkin-test's functions be triggered by a queue, as a user does: AWSLambdaSQSQueueExecutionRole
    attached (Lambda polls the queue with the function's role)."""
    execution_role(endpoint)
    _iam(endpoint).attach_role_policy(RoleName=ROLE_NAME, PolicyArn=QUEUE_EXECUTION)


def allow_destinations(endpoint: str, name: str = ROLE_NAME, resource: str = "*") -> None:
    """Lets the role `name`'s functions deliver async results, as a user does: an inline policy allowing
    sqs:SendMessage (queue destinations, dead-letter queues) and lambda:InvokeFunction (function
    destinations) on `resource` (Lambda delivers with the function's role)."""
    execution_role(endpoint, name)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "lambda:InvokeFunction"], "Resource": resource}
        ],
    }
    _iam(endpoint).put_role_policy(
        RoleName=name, PolicyName="async-destinations", PolicyDocument=json.dumps(document)
    )


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


def create(client: Any, name: str, image_uri: str, role: str | None = None, **extra: Any) -> dict[str, Any]:
    """CreateFunction with `role` (an ARN), or else the role lambkin-test."""
    role = role or execution_role(client.meta.endpoint_url)
    response: dict[str, Any] = client.create_function(
        FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image_uri}, **extra
    )
    return response


def create_active(
    client: Any, name: str, image_uri: str, role: str | None = None, **extra: Any
) -> dict[str, Any]:
    create(client, name, image_uri, role, **extra)
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
    )
    configuration: dict[str, Any] = client.get_function_configuration(FunctionName=name)
    return configuration


def public_url(client: Any, name: str, qualifier: str | None = None, **config: Any) -> str:
    """A function URL with AuthType NONE, made public as the Lambda console makes it: the function's policy
    grants everyone lambda:InvokeFunctionUrl (for NONE URLs) and lambda:InvokeFunction (via function URLs)."""
    qualified = {"Qualifier": qualifier} if qualifier else {}
    url: str = client.create_function_url_config(FunctionName=name, AuthType="NONE", **qualified, **config)[
        "FunctionUrl"
    ]
    client.add_permission(
        FunctionName=name,
        StatementId="FunctionURLAllowPublicAccess",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
        **qualified,
    )
    client.add_permission(
        FunctionName=name,
        StatementId="FunctionURLAllowInvokeAction",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
        **qualified,
    )
    return url
