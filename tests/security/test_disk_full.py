"""A full disk is each service's retryable server error naming the disk, and it loses and corrupts nothing."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.harness import LambkinServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs: the data directory's own disk, small enough to fill."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def server(disk: Path) -> Iterator[LambkinServer]:
    instance = LambkinServer(disk).start()  # its log is written beside the disk, not on it
    try:
        yield instance
    finally:
        instance.stop()


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
