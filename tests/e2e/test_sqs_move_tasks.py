"""Dead-letter queue redrive (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask) through
boto3 on both wire protocols, and through a server killed mid-task."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_authorization import client, document, user
from tests.e2e.test_sqs_api import PROTOCOLS, make_client
from tests.harness import LambkinServer, eventually


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, server: LambkinServer, tmp_path: Path) -> Iterator[Any]:
    yield make_client(server, request.param, tmp_path / "models")


def arn_of(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def dead_letter_setup(sqs: Any, prefix: str, sources: int = 1) -> tuple[str, str, list[str]]:
    """A dead-letter queue (its URL and ARN) and `sources` queues that send there after one receive."""
    prefix = f"{prefix}-{sqs.meta.service_model.protocol}"
    dlq = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})
    urls = [
        sqs.create_queue(QueueName=f"{prefix}-src{i}", Attributes={"RedrivePolicy": policy})["QueueUrl"]
        for i in range(sources)
    ]
    return dlq, arn_of(sqs, dlq), urls


def dead_letter(sqs: Any, source: str, bodies: list[str]) -> None:
    """Sends `bodies` to `source` and receives each twice, so the second receive moves it to the DLQ."""
    for body in bodies:
        sqs.send_message(QueueUrl=source, MessageBody=body)
    for _ in bodies:
        sqs.receive_message(QueueUrl=source, VisibilityTimeout=0, MaxNumberOfMessages=10)
    assert "Messages" not in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += messages
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return found


def latest(sqs: Any, source_arn: str) -> dict[str, Any]:
    [task] = sqs.list_message_move_tasks(SourceArn=source_arn)["Results"]
    return dict(task)


def refused(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as failure:
        call(**kwargs)
    response = failure.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_redrive_returns_messages_to_their_sources_as_new_messages(sqs: Any) -> None:
    dlq, dlq_arn, [first, second] = dead_letter_setup(sqs, "back", sources=2)
    dead_letter(sqs, first, ["a1", "a2", "a3"])
    dead_letter(sqs, second, ["b1", "b2"])
    dead = {
        m["Body"]: m["MessageId"]
        for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    }
    assert set(dead) == {"a1", "a2", "a3", "b1", "b2"}
    assert sqs.list_message_move_tasks(SourceArn=dlq_arn).get("Results", []) == []  # query: no element

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    task = eventually(lambda: (t := latest(sqs, dlq_arn))["Status"] == "COMPLETED" and t)
    assert task["SourceArn"] == dlq_arn and "DestinationArn" not in task and "TaskHandle" not in task
    assert task["ApproximateNumberOfMessagesMoved"] == task["ApproximateNumberOfMessagesToMove"] == 5
    assert task["StartedTimestamp"] > 1_600_000_000_000  # epoch milliseconds
    assert handle  # the handle of a finished task no longer cancels it
    assert refused(sqs.cancel_message_move_task, TaskHandle=handle)[0] == "InvalidParameterValue"

    back = {m["Body"]: m for m in drain(sqs, first)}
    assert set(back) == {"a1", "a2", "a3"}
    assert {m["Body"] for m in drain(sqs, second)} == {"b1", "b2"}
    assert all(back[body]["MessageId"] != dead[body] for body in back)  # redriven messages are new
    assert drain(sqs, dlq) == []


def test_a_destination_a_rate_and_a_cancel(sqs: Any) -> None:
    dlq, dlq_arn, [source] = dead_letter_setup(sqs, "slow")
    name = f"slow-elsewhere-{sqs.meta.service_model.protocol}"
    elsewhere = sqs.create_queue(QueueName=name)["QueueUrl"]
    bodies = [f"m{i}" for i in range(6)]
    dead_letter(sqs, source, bodies)
    handle = sqs.start_message_move_task(
        SourceArn=dlq_arn, DestinationArn=arn_of(sqs, elsewhere), MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    running = latest(sqs, dlq_arn)
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    assert running["DestinationArn"] == arn_of(sqs, elsewhere)
    assert refused(sqs.start_message_move_task, SourceArn=dlq_arn) == (
        "InvalidParameterValue",
        400,
        "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
    )

    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < len(bodies)
    task = eventually(lambda: (t := latest(sqs, dlq_arn))["Status"] == "CANCELLED" and t)
    assert "TaskHandle" not in task
    arrived = {m["Body"] for m in drain(sqs, elsewhere)}
    left = {m["Body"] for m in drain(sqs, dlq)}
    assert len(arrived) == task["ApproximateNumberOfMessagesMoved"] < len(bodies)
    assert arrived | left == set(bodies) and not arrived & left  # nothing lost, nothing twice
    assert drain(sqs, source) == []
    assert len(sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]) == 1


def test_move_task_errors(sqs: Any) -> None:
    _, dlq_arn, [source] = dead_letter_setup(sqs, "errs")
    account_region = dlq_arn.rsplit(":", 1)[0]
    assert refused(sqs.start_message_move_task, SourceArn=f"{account_region}:nothing") == (
        "ResourceNotFoundException",
        404,
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    )
    assert refused(sqs.start_message_move_task, SourceArn=arn_of(sqs, source)) == (
        "InvalidParameterValue",
        400,
        "Source queue must be configured as a Dead Letter Queue.",
    )
    assert refused(
        sqs.start_message_move_task, SourceArn=dlq_arn, DestinationArn=f"{account_region}:gone"
    ) == (
        "ResourceNotFoundException",
        404,
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
    )
    code, status, message = refused(
        sqs.start_message_move_task, SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501
    )
    assert (code, status) == ("InvalidParameterValue", 400) and "MaxNumberOfMessagesPerSecond" in message
    assert refused(sqs.list_message_move_tasks, SourceArn="not-an-arn") == (
        "InvalidParameterValue",
        400,
        "You must use this format to specify the SourceArn: arn:<partition>:<service>:<region>:<account-id>:<resource-id>",
    )
    assert refused(sqs.cancel_message_move_task, TaskHandle="garbage") == (
        "InvalidParameterValue",
        400,
        "Value for parameter TaskHandle is invalid.",
    )
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    eventually(lambda: latest(sqs, dlq_arn)["Status"] == "COMPLETED")
    raw = json.loads(base64.urlsafe_b64decode(handle.encode()))  # a well-formed handle, a task never made
    raw["taskId"] = "00000000-0000-0000-0000-000000000000"
    other = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode()
    assert refused(sqs.cancel_message_move_task, TaskHandle=other) == (
        "ResourceNotFoundException",
        404,
        "Task does not exist.",
    )


def test_a_task_killed_mid_move_resumes_and_moves_each_message_once(tmp_path: Path) -> None:
    own = LambkinServer(tmp_path / "data").start()
    try:
        sqs = make_client(own, "json", tmp_path / "models")
        dlq, dlq_arn, [source] = dead_letter_setup(sqs, "durable")
        bodies = [f"d{i}" for i in range(8)]
        dead_letter(sqs, source, bodies)
        sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=2)
        eventually(lambda: latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 2)
        own.restart(kill=True)
        sqs = make_client(own, "json", tmp_path / "models")
        task = eventually(lambda: (t := latest(sqs, dlq_arn))["Status"] == "COMPLETED" and t)
        assert task["ApproximateNumberOfMessagesMoved"] == len(bodies)
        back = [m["Body"] for m in drain(sqs, source)]
        assert sorted(back) == sorted(bodies)  # each exactly once
        assert drain(sqs, dlq) == []
    finally:
        own.stop()


def test_move_tasks_are_authorized_on_their_source_queue(server: LambkinServer, tmp_path: Path) -> None:
    admin = make_client(server, "json", tmp_path / "models")
    _, dlq_arn, [source] = dead_letter_setup(admin, "authz")
    dead_letter(admin, source, ["x"])
    other = admin.create_queue(QueueName="authz-other")["QueueUrl"]
    other_arn = arn_of(admin, other)
    lists = document({"Effect": "Allow", "Action": "sqs:ListMessageMoveTasks", "Resource": dlq_arn})
    key = user(server, "move-lister", inline=lists)
    me = server.client("iam").get_user(UserName="move-lister")["User"]["Arn"]
    sqs = client(server, "sqs", key)
    code, _, message = refused(sqs.list_message_move_tasks, SourceArn=dlq_arn)
    assert (code, message) == (
        "AccessDenied",
        f"User: {me} is not authorized to perform: sqs:GetQueueAttributes on resource: {dlq_arn} "
        "because no identity-based policy allows the sqs:GetQueueAttributes action",
    )
    reads = document({"Effect": "Allow", "Action": ["sqs:ListMessageMoveTasks", "sqs:GetQueueAttributes"],
                      "Resource": dlq_arn})  # fmt: skip
    sqs = client(server, "sqs", user(server, "move-reader", inline=reads))
    reader = server.client("iam").get_user(UserName="move-reader")["User"]["Arn"]
    assert sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"] == []
    assert refused(sqs.start_message_move_task, SourceArn=dlq_arn) == (
        "AccessDenied",
        403,
        f"User: {reader} is not authorized to perform: sqs:StartMessageMoveTask on resource: {dlq_arn} "
        "because no identity-based policy allows the sqs:StartMessageMoveTask action",
    )
    handle = admin.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    code, status, message = refused(sqs.cancel_message_move_task, TaskHandle=handle)
    assert (code, status) == ("AccessDenied", 403)
    assert f"sqs:CancelMessageMoveTask on resource: {dlq_arn} " in message
    eventually(lambda: latest(admin, dlq_arn)["Status"] == "COMPLETED")
    moves = document({"Effect": "Allow", "Resource": dlq_arn, "Action": [
        "sqs:StartMessageMoveTask", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]})  # fmt: skip
    sqs = client(server, "sqs", user(server, "mover", inline=moves))
    mover = server.client("iam").get_user(UserName="mover")["User"]["Arn"]
    assert refused(sqs.start_message_move_task, SourceArn=dlq_arn, DestinationArn=other_arn) == (
        "AccessDenied",
        403,
        f"User: {mover} is not authorized to perform: sqs:SendMessage on resource: {other_arn} "
        "because no identity-based policy allows the sqs:SendMessage action",
    )
    assert sqs.start_message_move_task(SourceArn=dlq_arn)[
        "TaskHandle"
    ]  # back to its sources: the source's rights
