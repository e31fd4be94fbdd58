"""The gateway speaking SQS's json protocol (current botocore) and query protocol (query-era clients)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from lambkin.protocol.errors import AwsError
from tests.unit.protocol.wire import build, client, echo, gateway, send, write_query_model

QUEUE = "http://localhost:9000/000000000000/q1"
MESSAGE = {
    "MessageId": "m-1",
    "ReceiptHandle": "rh-1",
    "MD5OfBody": "49f68a5c8493ec2c0bf489821c21fc3b",
    "Body": "hi",
    "Attributes": {"SentTimestamp": "1700000000000", "ApproximateReceiveCount": "1"},
    "MessageAttributes": {
        "kind": {"DataType": "String", "StringValue": "greeting"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    },
}


@pytest.fixture(params=["json", "query"])
def protocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def handlers() -> Iterator[dict[str, Any]]:
    yield {}


def sqs_client(handlers: dict[str, Any], protocol: str, tmp_path: Path) -> Any:
    app = gateway({"sqs": handlers})
    if protocol == "query":
        made = client(app, "sqs", model_dir=write_query_model(tmp_path))
        assert made.meta.service_model.protocol == "query"
        return made
    return client(app, "sqs")


def test_send_message_input_is_the_same_in_both_protocols(protocol: str, tmp_path: Path) -> None:
    handler, seen = echo({"MessageId": "m-1", "MD5OfMessageBody": "49f68a5c8493ec2c0bf489821c21fc3b"})
    sqs = sqs_client({"SendMessage": handler}, protocol, tmp_path)
    answer = sqs.send_message(
        QueueUrl=QUEUE,
        MessageBody="hi",
        DelaySeconds=5,
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    assert seen[0]["params"] == {
        "QueueUrl": QUEUE,
        "MessageBody": "hi",
        "DelaySeconds": 5,
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    assert answer["MessageId"] == "m-1"


def test_receive_message_output_with_flattened_lists_and_maps(protocol: str, tmp_path: Path) -> None:
    handler, seen = echo({"Messages": [MESSAGE]})
    sqs = sqs_client({"ReceiveMessage": handler}, protocol, tmp_path)
    answer = sqs.receive_message(
        QueueUrl=QUEUE, AttributeNames=["All"], MessageAttributeNames=["kind", "raw"], MaxNumberOfMessages=10
    )
    assert seen[0]["params"]["AttributeNames"] == ["All"]
    assert seen[0]["params"]["MessageAttributeNames"] == ["kind", "raw"]
    assert answer["Messages"] == [MESSAGE]


def test_queue_attributes_and_tags_maps(protocol: str, tmp_path: Path) -> None:
    handler, seen = echo({"QueueUrl": QUEUE})
    sqs = sqs_client({"CreateQueue": handler}, protocol, tmp_path)
    sqs.create_queue(
        QueueName="q1", Attributes={"VisibilityTimeout": "60", "DelaySeconds": "1"}, tags={"a": "b"}
    )
    assert seen[0]["params"] == {
        "QueueName": "q1",
        "Attributes": {"VisibilityTimeout": "60", "DelaySeconds": "1"},
        "tags": {"a": "b"},
    }


def test_batch_entries_and_partial_failures(protocol: str, tmp_path: Path) -> None:
    result = {
        "Successful": [{"Id": "a", "MessageId": "m-a", "MD5OfMessageBody": "x"}],
        "Failed": [{"Id": "b", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"}],
    }
    handler, seen = echo(result)
    sqs = sqs_client({"SendMessageBatch": handler}, protocol, tmp_path)
    answer = sqs.send_message_batch(
        QueueUrl=QUEUE, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}]
    )
    assert seen[0]["params"]["Entries"] == [{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}]
    assert answer["Successful"] == result["Successful"]
    assert answer["Failed"] == result["Failed"]


def test_modelled_errors_match_client_exceptions_by_legacy_code(protocol: str, tmp_path: Path) -> None:
    async def missing(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AwsError("QueueDoesNotExist", "The specified queue does not exist.")

    sqs = sqs_client({"GetQueueUrl": missing}, protocol, tmp_path)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as raised:
        sqs.get_queue_url(QueueName="nope")
    error = raised.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert (
        error["Message"]
        == {
            "json": "The specified queue does not exist.",
            "query": "The specified queue does not exist for this wsdl version.",  # as AWS's query protocol says
        }[protocol]
    )
    assert error["Type"] == "Sender"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_purge_in_progress_has_its_modelled_403(protocol: str, tmp_path: Path) -> None:
    async def busy(params: dict[str, Any], context: Any) -> dict[str, Any]:
        raise AwsError(
            "PurgeQueueInProgress", "Only one PurgeQueue operation on q1 is allowed every 60 seconds."
        )

    sqs = sqs_client({"PurgeQueue": busy}, protocol, tmp_path)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as raised:
        sqs.purge_queue(QueueUrl=QUEUE)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_missing_parameter_and_unserved_operation(protocol: str, tmp_path: Path) -> None:
    handler, _ = echo({})
    app = gateway({"sqs": {"DeleteMessage": handler}})
    request = build("sqs", "DeleteMessage", {"QueueUrl": QUEUE}, protocol=protocol)
    answer = send(app, request)
    assert answer.status == 400
    sqs = sqs_client({}, protocol, tmp_path)
    with pytest.raises(sqs.exceptions.UnsupportedOperation):
        sqs.list_queues()
    if protocol == "json":
        assert answer.headers["x-amzn-query-error"] == "MissingParameter;Sender"
    else:
        error = ElementTree.fromstring(answer.body).find("{*}Error")
        assert error is not None
        assert error.findtext("{*}Code") == "MissingParameter"
        assert error.findtext("{*}Message") == "The request must contain the parameter ReceiptHandle."


def test_query_wire_names_are_the_query_era_ones(tmp_path: Path) -> None:
    request = build(
        "sqs",
        "SendMessage",
        {
            "QueueUrl": QUEUE,
            "MessageBody": "x",
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
        },
        protocol="query",
    )
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
    assert "Action=SendMessage" in body
    assert "MessageAttribute.1.Name=k" in body
    assert "MessageAttribute.1.Value.DataType=String" in body
    receive = build("sqs", "ReceiveMessage", {"QueueUrl": QUEUE, "AttributeNames": ["All"]}, protocol="query")
    assert "AttributeName.1=All" in str(receive.body)


def test_query_response_xml_shape() -> None:
    handler, _ = echo({"QueueUrls": [QUEUE]})
    answer = send(gateway({"sqs": {"ListQueues": handler}}), build("sqs", "ListQueues", {}, protocol="query"))
    root = ElementTree.fromstring(answer.body)
    namespace = "{http://queue.amazonaws.com/doc/2012-11-05/}"
    assert root.tag == f"{namespace}ListQueuesResponse"
    assert root.findtext(f"{namespace}ListQueuesResult/{namespace}QueueUrl") == QUEUE
    request_id = root.findtext(f"{namespace}ResponseMetadata/{namespace}RequestId")
    assert request_id == answer.headers["x-amzn-requestid"]


def test_unknown_action_is_invalid_action() -> None:
    request = build("sqs", "ListQueues", {}, protocol="query")
    request.body = b"Action=Nope&Version=2012-11-05"
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(
        method="POST",
        url=request.url,
        data=request.body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(Credentials("AKIDTEST", "test-secret"), "sqs", "us-east-1").add_auth(signed)
    answer = send(gateway({"sqs": {}}), signed.prepare())
    assert answer.status == 400
    assert b"<Code>InvalidAction</Code>" in answer.body


def _signed_form(url: str, form: str, target: str | None = None) -> Any:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if target:
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    signed = AWSRequest(method="POST", url=url, data=form.encode(), headers=headers)
    SigV4Auth(Credentials("AKIDTEST", "test-secret"), "sqs", "us-east-1").add_auth(signed)
    return signed.prepare()


def test_query_request_to_the_queue_url_takes_its_queue_from_the_path() -> None:
    handler, seen = echo({})
    app = gateway({"sqs": {"DeleteMessage": handler}})
    request = _signed_form(QUEUE, "Action=DeleteMessage&Version=2012-11-05&ReceiptHandle=rh-1")
    assert send(app, request).status == 200
    assert seen[0]["params"] == {"QueueUrl": QUEUE, "ReceiptHandle": "rh-1"}


def test_unknown_json_target_is_an_unknown_operation() -> None:
    answer = send(gateway({"sqs": {}}), _signed_form("http://localhost:9000/", "{}", "AmazonSQS.Nope"))
    assert answer.status == 400
    assert answer.headers["x-amzn-query-error"] == "UnknownOperationException;Sender"


def test_sqs_model_enums_are_left_to_the_queue_service(protocol: str, tmp_path: Path) -> None:
    handler, seen = echo({})
    sqs = sqs_client({"ReceiveMessage": handler}, protocol, tmp_path)
    sqs.receive_message(QueueUrl=QUEUE, AttributeNames=["SenderId"])
    assert seen[0]["params"]["AttributeNames"] == ["SenderId"]
