"""EventBridge Scheduler end to end: boto3 and the AWS CLI against `lambkin server` — schedules and groups,
Scheduler's errors, a rate schedule firing into a queue with its execution role (context attributes in its
Input), a one-time schedule deleted after it fired, a role that may not send (the firing goes to the
dead-letter queue), and a firing missed while the server was killed delivered after its restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.cli import aws
from tests.harness import LambkinServer

ACCOUNT = "000000000000"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    instance = LambkinServer(Path(tmp_path_factory.mktemp("scheduler")) / "data").start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def scheduler(server: LambkinServer) -> Any:
    return server.client("scheduler")


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


def role(server: LambkinServer, name: str, resource: str) -> str:
    """A role Scheduler assumes, allowed sqs:SendMessage on `resource`."""
    iam = server.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": resource}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="send", PolicyDocument=json.dumps(policy))
    return arn


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive(sqs: Any, url: str, count: int = 1, limit_s: float = 30.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_s
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) >= count, f"only {len(got)} of {count} messages arrived"
    return got


def at(seconds_from_now: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_schedules_and_groups_are_created_read_listed_updated_and_deleted(
    server: LambkinServer, scheduler: Any
) -> None:
    nowhere = f"arn:aws:sqs:us-east-1:{ACCOUNT}:nowhere"
    target = {"Arn": nowhere, "RoleArn": role(server, "crud-role", nowhere)}
    group_arn = scheduler.create_schedule_group(Name="nightly")["ScheduleGroupArn"]
    assert group_arn == f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule-group/nightly"
    arn = scheduler.create_schedule(
        Name="etl",
        GroupName="nightly",
        ScheduleExpression="cron(0 2 * * ? *)",
        ScheduleExpressionTimezone="Europe/Paris",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        State="DISABLED",
    )["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/nightly/etl"
    got = scheduler.get_schedule(Name="etl", GroupName="nightly")
    assert (got["ScheduleExpressionTimezone"], got["State"], got["Target"]["Arn"]) == (
        "Europe/Paris",
        "DISABLED",
        target["Arn"],
    )
    scheduler.update_schedule(
        Name="etl",
        GroupName="nightly",
        ScheduleExpression="rate(6 hours)",
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
        Target=target,
    )
    got = scheduler.get_schedule(Name="etl", GroupName="nightly")
    assert (got["ScheduleExpression"], got["State"]) == ("rate(6 hours)", "ENABLED")
    listed = scheduler.list_schedules(GroupName="nightly")["Schedules"]
    assert [(s["Name"], s["Target"]["Arn"]) for s in listed] == [("etl", target["Arn"])]
    with pytest.raises(ClientError) as raised:
        scheduler.create_schedule(
            Name="etl",
            GroupName="nightly",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )
    assert error(raised) == ("ConflictException", 409)
    for expression in ("rate(1 hours)", "cron(0 2 * * * *)", "at(2027-13-01T00:00:00)"):
        with pytest.raises(ClientError) as raised:
            scheduler.create_schedule(
                Name="bad", ScheduleExpression=expression, FlexibleTimeWindow={"Mode": "OFF"}, Target=target
            )
        assert error(raised) == ("ValidationException", 400)
    scheduler.delete_schedule(Name="etl", GroupName="nightly")
    with pytest.raises(ClientError) as raised:
        scheduler.get_schedule(Name="etl", GroupName="nightly")
    assert error(raised) == ("ResourceNotFoundException", 404)
    scheduler.delete_schedule_group(Name="nightly")
    assert [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]] == ["default"]


def test_a_schedule_needs_an_execution_role_that_trusts_scheduler(
    server: LambkinServer, scheduler: Any
) -> None:
    iam, queue_arn = server.client("iam"), f"arn:aws:sqs:us-east-1:{ACCOUNT}:nowhere"
    lambda_trust = TRUST.replace("scheduler.amazonaws.com", "lambda.amazonaws.com")
    for_lambda = iam.create_role(RoleName="for-lambda", AssumeRolePolicyDocument=lambda_trust)["Role"]["Arn"]
    for role_arn in (f"arn:aws:iam::{ACCOUNT}:role/absent", for_lambda):
        with pytest.raises(ClientError) as raised:
            scheduler.create_schedule(
                Name="unassumable",
                ScheduleExpression="rate(1 hour)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": queue_arn, "RoleArn": role_arn},
            )
        assert error(raised) == ("ValidationException", 400)
        assert raised.value.response["Error"]["Message"] == (
            "The execution role you provide must allow AWS EventBridge Scheduler to assume the role."
        )
    own_account = json.loads(TRUST)
    own_account["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    guarded = iam.create_role(RoleName="guarded", AssumeRolePolicyDocument=json.dumps(own_account))["Role"]
    target = {"Arn": queue_arn, "RoleArn": guarded["Arn"]}
    scheduler.create_schedule(
        Name="assumable", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"}, Target=target
    )
    with pytest.raises(ClientError) as raised:  # an update is checked too
        scheduler.update_schedule(
            Name="assumable",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={**target, "RoleArn": for_lambda},
        )
    assert error(raised) == ("ValidationException", 400)
    scheduler.delete_schedule(Name="assumable")


def test_schedule_groups_are_tagged_untagged_and_their_tags_listed(scheduler: Any) -> None:
    arn = scheduler.create_schedule_group(Name="tagged", Tags=[{"Key": "team", "Value": "data"}])[
        "ScheduleGroupArn"
    ]
    scheduler.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "prod"}]
    )
    tags = scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("team", "ops")]
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    default = f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule-group/default"
    scheduler.tag_resource(ResourceArn=default, Tags=[{"Key": "owner", "Value": "me"}])
    assert scheduler.list_tags_for_resource(ResourceArn=default)["Tags"] == [{"Key": "owner", "Value": "me"}]
    missing = f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule-group/missing"
    for call in (
        lambda: scheduler.tag_resource(ResourceArn=missing, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: scheduler.untag_resource(ResourceArn=missing, TagKeys=["k"]),
        lambda: scheduler.list_tags_for_resource(ResourceArn=missing),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert error(raised) == ("ResourceNotFoundException", 404)
        assert raised.value.response["Error"]["Message"] == "Schedule group missing does not exist."
    schedule = f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/etl"  # only groups have tags
    with pytest.raises(ClientError) as raised:
        scheduler.tag_resource(ResourceArn=schedule, Tags=[{"Key": "k", "Value": "v"}])
    assert error(raised) == ("ValidationException", 400)
    scheduler.delete_schedule_group(Name="tagged")


def test_a_rate_schedule_fires_at_once_into_a_queue_with_its_context(
    server: LambkinServer, scheduler: Any, sqs: Any
) -> None:
    url, arn = queue(sqs, "ticks")
    role_arn = role(server, "ticker", arn)
    schedule_arn = scheduler.create_schedule(
        Name="ticker",
        ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": arn,
            "RoleArn": role_arn,
            "Input": '{"schedule": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>"}',
        },
    )["ScheduleArn"]
    (message,) = receive(sqs, url)
    body = json.loads(message["Body"])
    assert body["schedule"] == schedule_arn
    assert body["at"].endswith("Z")
    scheduler.delete_schedule(Name="ticker")


def test_a_one_time_schedule_fires_once_and_deletes_itself(
    server: LambkinServer, scheduler: Any, sqs: Any
) -> None:
    url, arn = queue(sqs, "once")
    role_arn = role(server, "once", arn)
    scheduler.create_schedule(
        Name="once",
        ScheduleExpression=at(2),
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": arn, "RoleArn": role_arn, "Input": "hello"},
    )
    (message,) = receive(sqs, url)
    assert message["Body"] == "hello"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and scheduler.list_schedules(NamePrefix="once")["Schedules"]:
        time.sleep(0.2)
    assert scheduler.list_schedules(NamePrefix="once")["Schedules"] == []


def test_a_role_that_may_not_send_puts_the_firing_in_the_dead_letter_queue(
    server: LambkinServer, scheduler: Any, sqs: Any
) -> None:
    _, target_arn = queue(sqs, "forbidden")
    dlq_url, dlq_arn = queue(sqs, "scheduler-dlq")
    role_arn = role(server, "dlq-only", dlq_arn)
    schedule_arn = scheduler.create_schedule(
        Name="refused",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": target_arn, "RoleArn": role_arn, "Input": "{}", "DeadLetterConfig": {"Arn": dlq_arn}},
    )["ScheduleArn"]
    (letter,) = receive(sqs, dlq_url)
    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert (attributes["SCHEDULE_ARN"], attributes["TARGET_ARN"]) == (schedule_arn, target_arn)
    scheduler.delete_schedule(Name="refused")


def test_a_firing_due_while_the_server_was_killed_is_delivered_after_restart(
    server: LambkinServer, sqs: Any
) -> None:
    url, arn = queue(sqs, "after-restart")
    role_arn = role(server, "restart", arn)
    due = time.time() + 20  # after the CLI has started and created the schedule
    aws(
        server,
        "scheduler",
        "create-schedule",
        "--name",
        "while-down",
        "--schedule-expression",
        at(due - time.time()),
        "--flexible-time-window",
        "Mode=OFF",
        "--target",
        json.dumps({"Arn": arn, "RoleArn": role_arn, "Input": '{"survived": true}'}),
    )
    server.stop(kill=True)
    time.sleep(max(0.0, due - time.time()) + 1)  # the firing falls due while no server runs
    server.start()
    fresh = server.client("sqs")
    (message,) = receive(fresh, url)
    assert json.loads(message["Body"]) == {"survived": True}
