"""A full disk is each service's retryable server error naming the disk, and it loses and corrupts nothing."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import create_active
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@contextlib.contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `mount` (made here), unmounted after."""
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs: the data directory's own disk, small enough to fill."""
    with tmpfs(tmp_path / "disk", "16m") as mount:
        yield mount


@pytest.fixture
def server(disk: Path) -> Iterator[LambkinServer]:
    instance = LambkinServer(disk).start()  # its log is written beside the disk, not on it
    try:
        yield instance
    finally:
        instance.stop()


MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"


def fill(disk: Path) -> Path:
    """Writes a file until the disk has no byte left."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    with pytest.raises(OSError) as full, (disk / "probe").open("wb", buffering=0) as probe:
        probe.write(b"\0" * 4096)
    assert full.value.errno == errno.ENOSPC
    return filler


def failure(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    response: dict[str, Any] = caught.value.response
    return response


def test_a_full_disk_is_a_retryable_error_and_loses_nothing(server: LambkinServer, disk: Path) -> None:
    config = Config(retries={"max_attempts": 0})
    sqs, iam = server.client("sqs", config=config), server.client("iam", config=config)
    kept = sqs.create_queue(QueueName="kept")["QueueUrl"]
    sqs.send_message(QueueUrl=kept, MessageBody="before")
    iam.create_user(UserName="before")
    filler = fill(disk)

    refusals = [
        (failure(lambda: sqs.create_queue(QueueName="during")), 503, "ServiceUnavailable"),
        (failure(lambda: sqs.send_message(QueueUrl=kept, MessageBody="during")), 503, "ServiceUnavailable"),
        (failure(lambda: iam.create_user(UserName="during")), 500, "ServiceFailure"),
    ]
    for response, status, code in refusals:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
        assert response["Error"]["Code"] == code
        assert f"The disk holding {disk} is full" in response["Error"]["Message"]
    assert sqs.list_queues().get("QueueUrls") == [kept]  # what failed was not half done

    filler.unlink()
    (disk / "probe").unlink(missing_ok=True)
    sqs.create_queue(QueueName="after")  # retried once there is room: served
    sqs.send_message(QueueUrl=kept, MessageBody="after")
    iam.create_user(UserName="after")
    server.restart()  # and everything committed is still there, readable
    sqs = server.client("sqs", config=config)
    assert sorted(u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"]) == ["after", "kept"]
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=kept, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(bodies) == ["after", "before"]
    users = server.client("iam", config=config).list_users()["Users"]
    assert sorted(u["UserName"] for u in users) == ["after", "before"]


def registry_error(response: httpx.Response) -> tuple[int, str, str]:
    [error] = response.json()["errors"]
    return response.status_code, error["code"], error["message"]


def test_a_push_to_the_full_disk_is_the_registrys_unavailable_and_keeps_no_partial_blob(
    server: LambkinServer, disk: Path
) -> None:
    blob = os.urandom(3 << 20)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with httpx.Client(base_url=server.endpoint, auth=(ACCESS_KEY_ID, SECRET_ACCESS_KEY), timeout=60) as http:
        config = b'{"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}'
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        assert http.post(f"/v2/app/blobs/uploads/?digest={config_digest}", content=config).status_code == 201
        image = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [],
        }
        started = http.post("/v2/app/blobs/uploads/")
        assert started.status_code == 202, started.text
        upload = started.headers["Location"]
        filler = fill(disk)

        chunk = http.patch(upload, content=blob, headers={"Content-Type": "application/octet-stream"})
        whole = http.post(f"/v2/app/blobs/uploads/?digest={digest}", content=blob)
        manifest = http.put(
            "/v2/app/manifests/v1",
            content=json.dumps(image),
            headers={"Content-Type": MANIFEST},
        )

        for refused in (chunk, whole, manifest):
            status, code, message = registry_error(refused)
            assert (status, code) == (503, "UNAVAILABLE"), refused.text
            assert f"The disk holding {disk}" in message and "is full" in message
        assert http.head(f"/v2/app/blobs/{digest}").status_code == 404  # no partial blob under its name
        assert http.get(upload).headers["Range"] == "0-0"  # the chunk was cut back off: resume from 0

        filler.unlink()
        (disk / "probe").unlink(missing_ok=True)
        resumed = http.patch(upload, content=blob, headers={"Content-Type": "application/octet-stream"})
        assert resumed.status_code == 202, resumed.text
        assert http.put(upload, params={"digest": digest}).status_code == 201
        assert http.get(f"/v2/app/blobs/{digest}").content == blob
        assert (
            http.put(
                "/v2/app/manifests/v1", content=json.dumps(image), headers={"Content-Type": MANIFEST}
            ).status_code
            == 201
        )
    assert list((disk / "blobs" / "staging").iterdir()) == []  # nothing the refused requests wrote is left


@pytest.fixture
def roomy_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 MB tmpfs: room for the python-handlers image and a cold start, then filled."""
    with tmpfs(tmp_path / "roomy", "512m") as mount:
        yield mount


def log_messages(server: LambkinServer, group: str) -> list[str]:
    logs = server.client("logs", config=Config(retries={"max_attempts": 0}))
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
    return [event["message"] for page in pages for event in page["events"]]


@pytest.mark.runc
def test_log_writes_on_a_full_disk_neither_crash_the_server_nor_lose_the_result(
    roomy_disk: Path, test_images: BuiltImages
) -> None:
    server = LambkinServer(roomy_disk).start()
    try:
        lam = server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
        uri = test_images.push("python-handlers", server.registry, tag="v1")
        create_active(lam, "chatty", uri, ImageConfig={"Command": ["app.log"]})
        lines = [f"line {i} " + "x" * 1000 for i in range(300)]  # 300 kB of output an invoke
        assert lam.invoke(FunctionName="chatty", Payload=json.dumps({"lines": lines}))["StatusCode"] == 200
        filler = fill(roomy_disk)

        for _ in range(3):  # warm invokes, whose output finds no room
            answer = lam.invoke(FunctionName="chatty", Payload=json.dumps({"lines": lines}), LogType="Tail")
            assert (answer["StatusCode"], answer.get("FunctionError")) == (200, None)
            assert json.loads(answer["Payload"].read()) == {"stdout": 300, "stderr": 0}
            assert "line 299" in base64.b64decode(answer["LogResult"]).decode()  # the tail is kept in memory
        log_messages(server, "/aws/lambda/chatty")  # reading flushes: it answers
        assert httpx.get(f"{server.endpoint}/health").status_code == 200

        filler.unlink()
        (roomy_disk / "probe").unlink(missing_ok=True)
        after = lam.invoke(
            FunctionName="chatty", Payload=json.dumps({"lines": ["written once there is room"]})
        )
        assert json.loads(after["Payload"].read()) == {"stdout": 1, "stderr": 0}
        messages = log_messages(server, "/aws/lambda/chatty")
        assert "written once there is room" in messages
        assert any(m.startswith("lambkin: up to") and "log lines were lost" in m for m in messages)
        assert all(
            m.startswith(("line ", "START", "END", "REPORT", "INIT", "lambkin:", "written")) for m in messages
        )
        assert server.process is not None and server.process.poll() is None
    finally:
        server.stop()
