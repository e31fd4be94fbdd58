"""Every SQS operation through boto3 against a running `lambkin server`, in both wire protocols.

The json client is boto3 as installed (botocore >= 1.34.90 speaks json to SQS). The query client is the
same boto3 with SQS's query-era model on its data path, so it sends `Action=...` forms and parses XML.
MD5s are checked the way the AWS Java SDK checks them (botocore checks none).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambkin.protocol.legacy import query_model
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

PROTOCOLS = ["json", "query"]


def make_client(server: LambkinServer, protocol: str, models: Path) -> Any:
    session = botocore.session.get_session()
    if protocol == "query":
        target = models / "sqs" / "2012-11-05"
        target.mkdir(parents=True, exist_ok=True)
        (target / "service-2.json").write_text(json.dumps(query_model("sqs")._service_description))
        session.get_component("data_loader").search_paths.insert(0, str(models))
    client = boto3.session.Session(botocore_session=session).client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )
    assert client.meta.service_model.protocol == protocol
    return client


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, server: LambkinServer, tmp_path: Path) -> Iterator[Any]:
    yield make_client(server, request.param, tmp_path / "models")


@pytest.fixture
def queue(sqs: Any, request: pytest.FixtureRequest) -> str:
    name = f"{request.node.name}".replace("[", "-").replace("]", "")[:70]
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


# --- the AWS Java SDK's MD5 checks (MessageMD5ChecksumHandler), written independently of lambkin ---


def java_md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str:
    digest = hashlib.md5(usedforsecurity=False)

    def put(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes, key=lambda n: n.encode("utf-16-be")):
        value = attributes[name]
        put(name.encode())
        put(value["DataType"].encode())
        if "BinaryValue" in value:
            digest.update(b"\x02")
            put(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            put(value["StringValue"].encode())
    return digest.hexdigest()


def check_sent(request: dict[str, Any], response: dict[str, Any]) -> None:
    assert response["MD5OfMessageBody"] == hashlib.md5(request["MessageBody"].encode()).hexdigest()
    if request.get("MessageAttributes"):
        assert response["MD5OfMessageAttributes"] == java_md5_of_attributes(request["MessageAttributes"])
    if request.get("MessageSystemAttributes"):
        expected = java_md5_of_attributes(request["MessageSystemAttributes"])
        assert response["MD5OfMessageSystemAttributes"] == expected


def check_received(message: dict[str, Any]) -> None:
    assert message["MD5OfBody"] == hashlib.md5(message["Body"].encode()).hexdigest()
    if message.get("MessageAttributes"):
        assert message["MD5OfMessageAttributes"] == java_md5_of_attributes(message["MessageAttributes"])


# --- queues ---


def test_create_is_idempotent_and_conflicts_on_different_attributes(sqs: Any, request: Any) -> None:
    name = f"create-{request.node.callspec.id}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"}, tags={"team": "a"})[
        "QueueUrl"
    ]
    assert url.endswith(f"/000000000000/{name}")
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert code(failure.value) == "QueueAlreadyExists"
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(QueueName="bad name!")
    assert code(failure.value) == "InvalidParameterValue"
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(QueueName=name, Attributes={"ContentBasedDeduplication": "true"})
    assert code(failure.value) == "InvalidAttributeName"
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(QueueName=name, Attributes={"Nonsense": "1"})
    assert code(failure.value) == "InvalidAttributeName"
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(QueueName=f"{name}-2", Attributes={"FifoQueue": "false"})
    assert code(failure.value) == "InvalidAttributeName"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}


def test_missing_queue(sqs: Any) -> None:
    with pytest.raises(ClientError) as failure:
        sqs.get_queue_url(QueueName="does-not-exist")
    assert code(failure.value) == "AWS.SimpleQueueService.NonExistentQueue"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (
        failure.value.response["Error"]["Message"]
        == {
            "json": "The specified queue does not exist.",
            "query": "The specified queue does not exist for this wsdl version.",
        }[sqs.meta.service_model.protocol]
    )
    if sqs.meta.service_model.protocol == "json":  # boto3 keeps the JSON __type's name here
        assert failure.value.response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"


def message_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as failure:
        call(**kwargs)
    return code(failure.value), failure.value.response["Error"]["Message"]


def test_errors_are_worded_as_aws_words_them(sqs: Any, queue: str) -> None:
    assert message_of(sqs.receive_message, QueueUrl=queue, WaitTimeSeconds=21) == (
        "InvalidParameterValue",
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
    )
    name = queue.rsplit("/", 1)[1]
    assert message_of(
        sqs.create_queue,
        QueueName=name,
        Attributes={"VisibilityTimeout": "30", "DelaySeconds": "5", "MaximumMessageSize": "1024"},
    ) == (
        "QueueAlreadyExists",
        "A queue already exists with the same name and a different value for attribute DelaySeconds",
    )
    for call, entry_type in (
        (sqs.send_message_batch, "SendMessageBatchRequestEntry"),
        (sqs.delete_message_batch, "DeleteMessageBatchRequestEntry"),
        (sqs.change_message_visibility_batch, "ChangeMessageVisibilityBatchRequestEntry"),
    ):
        assert message_of(call, QueueUrl=queue, Entries=[]) == (
            "AWS.SimpleQueueService.EmptyBatchRequest",
            f"There should be at least one {entry_type} in the request.",
        )
    if sqs.meta.service_model.protocol == "json":  # other SDKs build their exception class from __type
        with pytest.raises(ClientError) as failure:
            sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=21)
        assert failure.value.response["Error"]["QueryErrorCode"] == "InvalidParameterValueException"


def test_list_queues_prefix_and_pages(sqs: Any, request: Any) -> None:
    prefix = f"list-{request.node.callspec.id}-"
    for i in range(3):
        sqs.create_queue(QueueName=f"{prefix}{i}")
    urls = sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]
    assert [u.rsplit("/", 1)[1] for u in urls] == [f"{prefix}{i}" for i in range(3)]
    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert len(first["QueueUrls"]) == 2
    rest = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert rest["QueueUrls"] == urls[2:] and "NextToken" not in rest
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="no-such-prefix")


def test_attributes_all_and_set(sqs: Any, queue: str) -> None:
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{queue.rsplit('/', 1)[1]}"
    assert attributes["MaximumMessageSize"] == "1048576"
    for name in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"):
        assert attributes[name] == "0"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "0"
    assert int(attributes["CreatedTimestamp"]) <= int(attributes["LastModifiedTimestamp"])
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"DelaySeconds": "5", "VisibilityTimeout": "7"})
    got = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["DelaySeconds", "VisibilityTimeout"])
    assert got["Attributes"] == {"DelaySeconds": "5", "VisibilityTimeout": "7"}
    with pytest.raises(ClientError) as failure:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "43201"})
    assert code(failure.value) == "InvalidAttributeValue"


def test_tags(sqs: Any, queue: str) -> None:
    sqs.tag_queue(QueueUrl=queue, Tags={"a": "1", "b": "2"})
    sqs.untag_queue(QueueUrl=queue, TagKeys=["a"])
    assert sqs.list_queue_tags(QueueUrl=queue)["Tags"] == {"b": "2"}


def test_delete_queue(sqs: Any, request: Any) -> None:
    url = sqs.create_queue(QueueName=f"gone-{request.node.callspec.id}")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(ClientError) as failure:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code(failure.value) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as failure:
        sqs.create_queue(QueueName=f"gone-{request.node.callspec.id}")
    assert code(failure.value) == "AWS.SimpleQueueService.QueueDeletedRecently"


# --- messages ---


def test_send_receive_delete_with_attributes_and_md5s(sqs: Any, queue: str) -> None:
    send = {
        "QueueUrl": queue,
        "MessageBody": "héllo \U0001f600",
        "MessageAttributes": {
            "colour": {"DataType": "String", "StringValue": "blue"},
            "count": {"DataType": "Number", "StringValue": "42"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff\x10"},
            "other.name": {"DataType": "String.custom", "StringValue": "x"},
        },
        "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}},
    }
    sent = sqs.send_message(**send)
    check_sent(send, sent)
    received = sqs.receive_message(
        QueueUrl=queue,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
        MaxNumberOfMessages=10,
    )
    [message] = received["Messages"]
    check_received(message)
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == send["MessageBody"]
    assert message["MessageAttributes"] == send["MessageAttributes"]
    attributes = message["Attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["SenderId"] == ACCESS_KEY_ID
    assert attributes["AWSTraceHeader"] == "Root=1-abc"
    assert int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"])
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)


def test_attribute_name_filters(sqs: Any, queue: str) -> None:
    attributes = {
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "String", "StringValue": "2"},
        "b": {"DataType": "String", "StringValue": "3"},
    }
    sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attributes)
    [message] = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["a.*"], AttributeNames=["SentTimestamp"], VisibilityTimeout=0
    )["Messages"]
    check_received(message)
    assert set(message["MessageAttributes"]) == {"a.one", "a.two"}
    assert set(message["Attributes"]) == {"SentTimestamp"}
    [plain] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert "MessageAttributes" not in plain and "Attributes" not in plain


def test_send_batch_and_its_errors(sqs: Any, queue: str) -> None:
    entries = [
        {
            "Id": "ok",
            "MessageBody": "one",
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
        },
        {"Id": "bad", "MessageBody": "two\x00"},
    ]
    result = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    [ok] = result["Successful"]
    assert ok["Id"] == "ok"
    check_sent(entries[0], ok)
    [bad] = result["Failed"]
    assert (bad["Id"], bad["Code"], bad["SenderFault"]) == ("bad", "InvalidMessageContents", True)
    cases = [
        ([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": str(i), "MessageBody": "x"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": str(i), "MessageBody": "x" * 600_000} for i in range(2)], "BatchRequestTooLong"),
        ([{"Id": "bad id!", "MessageBody": "x"}], "InvalidBatchEntryId"),
    ]
    for batch, expected in cases:
        with pytest.raises(ClientError) as failure:
            sqs.send_message_batch(QueueUrl=queue, Entries=batch)
        assert code(failure.value) == f"AWS.SimpleQueueService.{expected}"


def test_one_mebibyte_messages(sqs: Any, queue: str) -> None:
    body = "x" * 1_048_576
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    with pytest.raises(ClientError) as failure:
        sqs.send_message(QueueUrl=queue, MessageBody=body + "x")
    assert code(failure.value) == "InvalidParameterValue"
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert message["Body"] == body
    check_received(message)


def test_receive_limits(sqs: Any, queue: str) -> None:
    for bad in ({"MaxNumberOfMessages": 11}, {"MaxNumberOfMessages": 0}, {"WaitTimeSeconds": 21}):
        with pytest.raises(ClientError) as failure:
            sqs.receive_message(QueueUrl=queue, **bad)
        assert code(failure.value) == "InvalidParameterValue"
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(10)])
    assert len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]) == 10


def test_delete_batch_and_invalid_handles(sqs: Any, queue: str) -> None:
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    entries = [{"Id": f"e{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    entries.append({"Id": "junk", "ReceiptHandle": "not-a-handle"})
    result = sqs.delete_message_batch(QueueUrl=queue, Entries=entries)
    assert sorted(s["Id"] for s in result["Successful"]) == [f"e{i}" for i in range(len(messages))]
    assert [(f["Id"], f["Code"]) for f in result["Failed"]] == [("junk", "ReceiptHandleIsInvalid")]
    with pytest.raises(ClientError) as failure:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle="not-a-handle")
    assert code(failure.value) == "ReceiptHandleIsInvalid"
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_change_visibility(sqs: Any, queue: str) -> None:
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(2)])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=600)["Messages"]
    assert len(messages) == 2
    counts = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert counts["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "2"
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    # its timeout is over and no one received it since: a standard queue takes the handle still
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    result = sqs.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "a", "ReceiptHandle": messages[1]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": "junk", "VisibilityTimeout": 0},
        ],
    )
    assert [s["Id"] for s in result["Successful"]] == ["a"]
    assert [f["Id"] for f in result["Failed"]] == ["b"]
    again = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
    )
    assert sorted(m["Attributes"]["ApproximateReceiveCount"] for m in again["Messages"]) == ["2", "2"]


def test_purge(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="x")
    sqs.purge_queue(QueueUrl=queue)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    with pytest.raises(ClientError) as failure:
        sqs.purge_queue(QueueUrl=queue)
    assert code(failure.value) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_dead_letter_sources(sqs: Any, request: Any) -> None:
    suffix = request.node.callspec.id
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "3"})
    source = sqs.create_queue(QueueName=f"src-{suffix}", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    got = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(got["RedrivePolicy"]) == {"deadLetterTargetArn": arn, "maxReceiveCount": 3}


def test_old_clients_post_forms_to_the_queue_url(server: LambkinServer, queue: str) -> None:
    """Query-era clients send `Action=...` to the queue's own URL and leave QueueUrl out of the form."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlencode

    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = urlencode({"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "via the path"})
    request = AWSRequest(
        method="POST",
        url=queue,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "sqs", REGION).add_auth(request)
    answer = httpx.post(queue, content=body, headers=dict(request.headers.items()))
    assert answer.status_code == 200, answer.text
    ns = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}
    root = ET.fromstring(answer.text)
    md5 = root.findtext("sqs:SendMessageResult/sqs:MD5OfMessageBody", namespaces=ns)
    assert md5 == hashlib.md5(b"via the path").hexdigest()
