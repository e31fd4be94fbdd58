"""A server's data directory is private: no file or directory lambkin writes is open to other local users."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages
from tests.integration.image_tools import lambkin

# What the sandbox's user reads keeps the image's own modes, behind the private directory: the layers'
# contents, the skeleton layer over them, each sandbox's mounted root, and each sandbox's /tmp (a file
# system of its own, 1777 as Lambda's /tmp is, mounted in the sandbox's bundle).
SANDBOX_VIEW = ("sandbox-skeleton", "rootfs")
SANDBOX_TMP = "tmp"


def exposed(data_dir: Path) -> list[str]:
    """Everything under `data_dir` that a group or other user may read, write or enter."""
    found = []
    for top, dirs, files in os.walk(data_dir):
        here = Path(top)
        if here.parent == data_dir and here.name == "layers":
            dirs[:] = []
        dirs[:] = [d for d in dirs if d not in SANDBOX_VIEW]
        if here.parent.name == "sandboxes":  # a sandbox's bundle
            dirs[:] = [d for d in dirs if d != SANDBOX_TMP]
        for name in [*dirs, *files]:
            mode = os.lstat(here / name).st_mode
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                found.append(f"{(here / name).relative_to(data_dir)} {stat.S_IMODE(mode):o}")
    return found


def test_the_data_directory_and_everything_written_in_it_are_private(
    server: LambkinServer, test_images: BuiltImages
) -> None:
    uri = test_images.push("python-handlers", server.registry, tag="v1")
    lam = server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    create_active(
        lam,
        "secretive",
        uri,
        ImageConfig={"Command": ["app.echo"]},
        Environment={"Variables": {"TOKEN": "s3cr3t"}},
    )
    answer = lam.invoke(FunctionName="secretive", Payload=json.dumps({"hello": "world"}))
    assert "FunctionError" not in answer
    sqs: Any = server.client("sqs")
    url = sqs.create_queue(QueueName="private")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="nobody else reads this")

    # The harness made the data directory 0755 before the server started.
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    assert exposed(server.data_dir) == []


def test_lambkin_image_import_writes_privately_too(tmp_path: Path, test_images: BuiltImages) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)

    done = lambkin(
        "image", "import", test_images.path("busybox"), "--tag", "busybox:v1", "--data-dir", data_dir
    )

    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert exposed(data_dir) == []
