"""The AWS CLI (`aws sqs ...`) against a running server, as a user would type it."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from tests.e2e import cli
from tests.harness import LambkinServer


def aws(server: LambkinServer, *args: str) -> Any:
    return cli.aws(server, "sqs", *args)


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


def test_cli_redrives_a_dead_letter_queue(server: LambkinServer) -> None:
    dlq = aws(server, "create-queue", "--queue-name", "cli-dlq")["QueueUrl"]
    dlq_arn = aws(server, "get-queue-attributes", "--queue-url", dlq, "--attribute-names", "QueueArn")[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
    source = aws(server, "create-queue", "--queue-name", "cli-src", "--attributes", policy)["QueueUrl"]
    aws(server, "send-message", "--queue-url", source, "--message-body", "again")
    aws(server, "receive-message", "--queue-url", source, "--visibility-timeout", "0")
    assert aws(server, "receive-message", "--queue-url", source) is None  # moved to the DLQ
    started = aws(server, "start-message-move-task", "--source-arn", dlq_arn)
    assert started["TaskHandle"]
    deadline = time.monotonic() + 60
    while (task := aws(server, "list-message-move-tasks", "--source-arn", dlq_arn)["Results"][0])[
        "Status"
    ] != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    [message] = aws(server, "receive-message", "--queue-url", source)["Messages"]
    assert message["Body"] == "again"
