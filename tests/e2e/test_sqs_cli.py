"""The AWS CLI (`aws sqs ...`) against a running server, as a user would type it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

AWS = str(Path(sys.executable).with_name("aws"))


def aws(server: LambkinServer, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [AWS, "sqs", *args, "--endpoint-url", server.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_cli_round_trip(server: LambkinServer) -> None:
    url = aws(server, "create-queue", "--queue-name", "cli", "--attributes", "VisibilityTimeout=60")[
        "QueueUrl"
    ]
    assert aws(server, "get-queue-url", "--queue-name", "cli")["QueueUrl"] == url
    assert url in aws(server, "list-queues", "--queue-name-prefix", "cl")["QueueUrls"]
    sent = aws(
        server,
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "from the cli",
        "--message-attributes",
        '{"k":{"DataType":"String","StringValue":"v"}}',
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = aws(
        server,
        "receive-message",
        "--queue-url",
        url,
        "--attribute-names",
        "All",
        "--message-attribute-names",
        "All",
    )
    [message] = got["Messages"]
    assert message["Body"] == "from the cli"
    assert message["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    attributes = aws(server, "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")[
        "Attributes"
    ]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["VisibilityTimeout"] == "60"
    aws(server, "delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
    aws(
        server,
        "send-message-batch",
        "--queue-url",
        url,
        "--entries",
        "Id=a,MessageBody=one",
        "Id=b,MessageBody=two",
    )
    aws(server, "purge-queue", "--queue-url", url)
    assert aws(server, "receive-message", "--queue-url", url) is None
    aws(server, "delete-queue", "--queue-url", url)
    assert aws(server, "list-queues", "--queue-name-prefix", "cli") is None
