"""The AWS CLI (`aws sqs ...`) against a running server, as a user would type it."""

from __future__ import annotations

import hashlib
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
