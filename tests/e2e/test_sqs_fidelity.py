"""SQS behaviours AWS documents (or was seen doing) that SDKs and applications rely on, in both wire protocols.

FIFO group visibility and order, receipt handles of older or expired deliveries, redrive counts, attribute
name filters, trace headers, queue attributes, batch results, and the query protocol's corners.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.test_sqs_api import PROTOCOLS, code, make_client
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, server: LambkinServer, tmp_path: Path) -> Iterator[Any]:
    yield make_client(server, request.param, tmp_path / "models")


def queue_name(request: pytest.FixtureRequest, suffix: str = "") -> str:
    """A queue name of its own for each test and protocol (at most 70 characters with a suffix)."""
    callspec = getattr(request.node, "callspec", None)
    protocol = f"-{callspec.id}" if callspec is not None else ""
    return request.node.originalname[:50] + protocol + suffix


def fifo(sqs: Any, request: pytest.FixtureRequest, suffix: str = "", **attributes: str) -> str:
    url: str = sqs.create_queue(
        QueueName=queue_name(request, suffix) + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", **attributes},
    )["QueueUrl"]
    return url


def standard(sqs: Any, request: pytest.FixtureRequest, suffix: str = "", **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=queue_name(request, suffix), Attributes=attributes)["QueueUrl"]
    return url


def bodies(response: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in response.get("Messages", [])]


def signed_post(url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    """A query-protocol request as an old SDK sends it, signed, with extra headers."""
    body = urlencode(form)
    all_headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})}
    request = AWSRequest(method="POST", url=url, data=body, headers=all_headers)
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "sqs", REGION).add_auth(request)
    return httpx.post(url, content=body, headers=dict(request.headers.items()))


# --- FIFO ---


def test_fifo_only_in_flight_messages_hide_their_group(sqs: Any, request: Any) -> None:
    """A group's message made visible again is delivered though a later one of the group is still in
    flight; the group that was not just released comes first."""
    url = fifo(sqs, request, VisibilityTimeout="60")
    for body, group in (("g1-m1", "g1"), ("g1-m2", "g1"), ("g2-m1", "g2")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)
    assert bodies(first) == ["g1-m1", "g1-m2"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0
    )
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)) == ["g2-m1", "g1-m1"]


def test_fifo_groups_just_released_are_served_after_the_others(sqs: Any, request: Any) -> None:
    url = fifo(sqs, request)
    for body in ("g1-m1", "g2-m1", "g2-m2", "g3-m1", "g1-m2"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body[:2])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=0)
    assert bodies(first) == ["g1-m1", "g1-m2", "g2-m1"]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert bodies(again) == ["g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"]


@pytest.mark.parametrize("delete_both", [False, True], ids=["one-deleted", "both-deleted"])
def test_fifo_group_in_flight_until_its_messages_are_deleted(
    sqs: Any, request: Any, delete_both: bool
) -> None:
    url = fifo(sqs, request, "-" + ("both" if delete_both else "one"))
    for body in ("g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m3", "g1-m4", "g3-m1"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=body[:2])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)
    assert bodies(first) == ["g1-m1", "g1-m2"]
    for message in first["Messages"][: 2 if delete_both else 1]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    rest = bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10))
    if delete_both:  # group 1 is served again (AWS gave g1 between g2 and g3; groups have no order)
        assert rest in (
            ["g2-m1", "g2-m2", "g1-m3", "g1-m4", "g3-m1"],
            ["g2-m1", "g2-m2", "g3-m1", "g1-m3", "g1-m4"],
        )
    else:  # g1-m2 still in flight holds its group back
        assert rest == ["g2-m1", "g2-m2", "g3-m1"]


def test_fifo_takes_a_per_message_delay_of_zero(sqs: Any, request: Any) -> None:
    url = fifo(sqs, request)
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", DelaySeconds=0)
    result = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "b", "MessageBody": "b", "MessageGroupId": "g", "DelaySeconds": 0}]
    )
    assert [s["Id"] for s in result["Successful"]] == ["b"]
    with pytest.raises(ClientError) as failure:
        sqs.send_message(QueueUrl=url, MessageBody="c", MessageGroupId="g", DelaySeconds=2)
    assert code(failure.value) == "InvalidParameterValue"
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["a", "b"]


def test_fifo_batch_entry_without_group_or_deduplication_id_fails_the_request(sqs: Any, request: Any) -> None:
    url = fifo(sqs, request)
    with pytest.raises(ClientError) as failure:
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g"},
                {"Id": "bad", "MessageBody": "b"},
            ],
        )
    assert code(failure.value) == "MissingParameter"
    assert (
        failure.value.response["Error"]["Message"] == "The request must contain the parameter MessageGroupId."
    )
    explicit = fifo(sqs, request, "-explicit", ContentBasedDeduplication="false")
    with pytest.raises(ClientError) as failure:
        sqs.send_message_batch(
            QueueUrl=explicit,
            Entries=[
                {"Id": "ok", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
                {"Id": "bad", "MessageBody": "b", "MessageGroupId": "g"},
            ],
        )
    assert code(failure.value) == "InvalidParameterValue"
    assert failure.value.response["Error"]["Message"] == (
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
        "explicitly"
    )
    for queue in (url, explicit):  # nothing of either request was sent
        assert "Messages" not in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)


def test_fifo_errors_are_worded_as_aws_words_them(sqs: Any, request: Any) -> None:
    url = fifo(sqs, request)
    for name, value in (("MessageGroupId", "has space"), ("MessageDeduplicationId", "x" * 129)):
        ids = {"MessageGroupId": "g", name: value}
        with pytest.raises(ClientError) as failure:
            sqs.send_message(QueueUrl=url, MessageBody="m", **ids)
        assert code(failure.value) == "InvalidParameterValue"
        assert failure.value.response["Error"]["Message"] == (
            f"Value {value} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and "
            "punctuation characters. 1 to 128 in length."
        )
    for name, value in (("DeduplicationScope", "messageGroup"), ("FifoThroughputLimit", "perQueue")):
        with pytest.raises(ClientError) as failure:
            sqs.create_queue(QueueName=queue_name(request, "-std"), Attributes={name: value})
        assert code(failure.value) == "InvalidAttributeName"
        assert failure.value.response["Error"]["Message"] == (
            f"You can specify the {name} only when FifoQueue is set to true."
        )


def test_purge_clears_the_deduplication_cache(sqs: Any, request: Any) -> None:
    url = fifo(sqs, request)
    first = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.purge_queue(QueueUrl=url)
    again = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    assert again["MessageId"] != first["MessageId"]
    assert bodies(sqs.receive_message(QueueUrl=url)) == ["x"]


# --- receipt handles ---


def test_change_visibility_takes_an_expired_or_older_handle(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [first] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    # its timeout is over and no one received it since: the handle still hides it
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=600)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    [second] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # the older handle of a message received again is accepted too
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
    result = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "old", "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 0}]
    )
    assert [s["Id"] for s in result["Successful"]] == ["old"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])


def test_fifo_delete_with_an_expired_handle_is_refused(sqs: Any, request: Any) -> None:
    url = fifo(sqs, request)
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g")
    [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    handle = message["ReceiptHandle"]
    with pytest.raises(ClientError) as failure:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    assert code(failure.value) == "InvalidParameterValue"
    assert failure.value.response["Error"]["Message"] == (
        f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    )
    result = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "e", "ReceiptHandle": handle}])
    assert [(f["Id"], f["Code"]) for f in result["Failed"]] == [("e", "InvalidParameterValue")]
    [again] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)


# --- delivery ---


def test_dead_letter_queue_keeps_the_receive_count(sqs: Any, request: Any) -> None:
    dlq = standard(sqs, request, "-dlq")
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    source = standard(sqs, request, "-src", RedrivePolicy=policy)
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    assert bodies(sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)) == ["poison"]
    assert "Messages" not in sqs.receive_message(QueueUrl=source)  # moved on this receive
    [moved] = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Attributes"]["ApproximateReceiveCount"] == "2"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"].endswith(":" + source.rsplit("/", 1)[1])


def test_standard_message_visible_again_comes_before_newer_ones(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    sqs.send_message(QueueUrl=url, MessageBody="old")
    [old] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody="new")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"], VisibilityTimeout=0)
    assert bodies(sqs.receive_message(QueueUrl=url)) == ["old"]
    assert bodies(sqs.receive_message(QueueUrl=url)) == ["new"]


def test_message_attribute_name_prefixes(sqs: Any, request: Any) -> None:
    url = standard(sqs, request, VisibilityTimeout="0")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="m",
        MessageAttributes={
            name: {"DataType": "String", "StringValue": name} for name in ("Help.Me", "Hello", "General")
        },
    )

    def names(filters: list[str]) -> list[str]:
        [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=filters)["Messages"]
        return sorted(message.get("MessageAttributes", {}))

    assert names(["Hel.*"]) == ["Hello", "Help.Me"]
    assert names(["Help.*"]) == ["Help.Me"]
    assert names([".*"]) == names(["All"]) == ["General", "Hello", "Help.Me"]
    assert names(["Hello", "Foo"]) == ["Hello"]
    assert names(["Help"]) == []


def test_message_attribute_names_with_accented_latin_letters(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    value = {"DataType": "String", "StringValue": "v"}
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"Größe": value, "Ärger.ñ": value})
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert sorted(message["MessageAttributes"]) == ["Größe", "Ärger.ñ"]
    with pytest.raises(ClientError) as failure:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"名前": value})
    assert code(failure.value) == "InvalidParameterValue"
    bad = {"DataType": "String", "StringValue": "bad\x01"}
    with pytest.raises(ClientError) as failure:  # a character no message may hold, in an attribute value
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"a": bad})
    assert code(failure.value) == "InvalidParameterValue"


def test_trace_header_becomes_the_aws_trace_header_attribute(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = trace

    sqs.meta.events.register("before-sign.sqs.SendMessage", add_header)
    try:
        sqs.send_message(QueueUrl=url, MessageBody="traced")
    finally:
        sqs.meta.events.unregister("before-sign.sqs.SendMessage", add_header)
    [message] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"]
    assert message["Attributes"] == {"AWSTraceHeader": trace}


# --- attributes and results ---


def test_queue_attribute_defaults_and_no_ops(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "KmsMasterKeyId" not in attributes
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sqs"
    assert attributes["SqsManagedSseEnabled"] == "false"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ""})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "KmsMasterKeyId" not in attributes
    queue = fifo(sqs, request)
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"FifoQueue": "true"})
    with pytest.raises(ClientError) as failure:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"FifoQueue": "false"})
    assert code(failure.value) == "InvalidAttributeValue"


def test_batch_without_failures_has_no_failed_member(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    result = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "a"}])
    assert [s["Id"] for s in result["Successful"]] == ["a"]
    assert "Failed" not in result
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "d", "ReceiptHandle": message["ReceiptHandle"]}]
    )
    assert "Failed" not in deleted


def test_empty_results(sqs: Any, request: Any) -> None:
    url = standard(sqs, request)
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="no-such-queue-prefix")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    sources = sqs.list_dead_letter_source_queues(QueueUrl=url)
    if sqs.meta.service_model.protocol == "json":  # a required member: an empty list (XML has no element)
        assert sources["queueUrls"] == []
    else:
        assert "queueUrls" not in sources


# --- the query protocol's corners ---


def test_query_protocol_escapes_carriage_returns(server: LambkinServer, request: Any) -> None:
    client = make_client(server, "json", Path("/nonexistent"))
    url = client.create_queue(QueueName=queue_name(request))["QueueUrl"]
    body = "one\r\ntwo\rthree"
    sent = signed_post(url, {"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": body})
    assert sent.status_code == 200, sent.text
    answer = signed_post(url, {"Action": "ReceiveMessage", "Version": "2012-11-05"})
    assert answer.status_code == 200, answer.text
    assert "&#xD;" in answer.text and "\r" not in answer.text
    root = ET.fromstring(answer.text)
    assert root.findtext("sqs:ReceiveMessageResult/sqs:Message/sqs:Body", namespaces=NS) == body


def test_query_request_accepting_json_gets_json(server: LambkinServer, request: Any) -> None:
    client = make_client(server, "json", Path("/nonexistent"))
    url = client.create_queue(QueueName=queue_name(request))["QueueUrl"]
    form = {"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "hello"}
    answer = signed_post(url, form, {"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    sent = answer.json()["SendMessageResponse"]
    assert sent["SendMessageResult"]["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert sent["ResponseMetadata"]["RequestId"]
    missing = signed_post(
        url.rsplit("/", 1)[0] + "/no-such-queue",
        {"Action": "GetQueueAttributes", "Version": "2012-11-05"},
        {"Accept": "application/json"},
    )
    assert missing.status_code == 400
    error = missing.json()["ErrorResponse"]["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_query_action_without_a_queue_on_a_queue_url(server: LambkinServer, request: Any) -> None:
    client = make_client(server, "json", Path("/nonexistent"))
    url = client.create_queue(QueueName=queue_name(request))["QueueUrl"]
    for action in ("ListQueues", "CreateQueue"):
        form = {"Action": action, "Version": "2012-11-05", "QueueName": "other"}
        answer = signed_post(url, form)
        assert answer.status_code == 400, answer.text
        root = ET.fromstring(answer.text)
        assert root.findtext("sqs:Error/sqs:Code", namespaces=NS) == "InvalidAction"
        assert root.findtext("sqs:Error/sqs:Message", namespaces=NS) == (
            f"The action {action} is not valid for this endpoint."
        )
    nothing = signed_post(url, {"Version": "2012-11-05"})
    assert nothing.status_code == 404
    assert nothing.text.strip().endswith("<UnknownOperationException/>")
