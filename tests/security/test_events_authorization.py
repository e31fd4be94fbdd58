"""EventBridge and Scheduler check who asks, and whom a rule delivers to: an IAM user gets exactly what its
policy allows on rules, buses and schedules (each service's AccessDenied otherwise), and a rule cannot make
a function run, nor fill a queue, whose own policy does not let EventBridge in."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.e2e.test_authorization import client, document, refused, user
from tests.e2e.test_events_api import queue_for_events
from tests.harness import LambkinServer

ACCOUNT = "000000000000"


def test_a_user_may_put_events_on_its_bus_and_nothing_else(server: LambkinServer) -> None:
    server.client("events").create_event_bus(Name="app-bus")
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/app-bus"
    key = user(
        server,
        "publisher",
        inline=document({"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}),
    )
    events, scheduler = client(server, "events", key), client(server, "scheduler", key)
    answer = events.put_events(
        Entries=[{"EventBusName": "app-bus", "Source": "app", "DetailType": "x", "Detail": "{}"}]
    )
    assert answer["FailedEntryCount"] == 0
    code, status, message = refused(
        events.put_events, Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}]
    )
    assert (code, status) == ("AccessDeniedException", 400)
    assert "events:PutEvents" in message and "event-bus/default" in message
    mixed = events.put_events(
        Entries=[
            {"EventBusName": "app-bus", "Source": "app", "DetailType": "x", "Detail": "{}"},
            {"Source": "app", "DetailType": "x", "Detail": "{}"},
        ]
    )
    assert mixed["FailedEntryCount"] == 1
    assert "EventId" in mixed["Entries"][0]
    assert mixed["Entries"][1]["ErrorCode"] == "AccessDeniedException"
    assert "event-bus/default" in mixed["Entries"][1]["ErrorMessage"]
    code, status, _ = refused(events.put_rule, Name="sneaky", EventPattern='{"source": ["app"]}')
    assert (code, status) == ("AccessDeniedException", 400)
    code, status, _ = refused(
        scheduler.create_schedule,
        Name="sneaky",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r"},
    )
    assert (code, status) == ("AccessDeniedException", 403)


def test_a_rule_cannot_fill_a_queue_whose_policy_does_not_let_eventbridge_in(server: LambkinServer) -> None:
    sqs, events = server.client("sqs"), server.client("events")
    closed = sqs.create_queue(QueueName="closed")["QueueUrl"]
    closed_arn = sqs.get_queue_attributes(QueueUrl=closed, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    dlq_url, dlq_arn = queue_for_events(sqs, "closed-dlq")
    events.put_rule(Name="to-closed", EventPattern=json.dumps({"source": ["intruder"]}))
    events.put_targets(
        Rule="to-closed", Targets=[{"Id": "q", "Arn": closed_arn, "DeadLetterConfig": {"Arn": dlq_arn}}]
    )
    events.put_events(Entries=[{"Source": "intruder", "DetailType": "x", "Detail": "{}"}])
    deadline = time.monotonic() + 30
    letters: list[Any] = []
    while not letters and time.monotonic() < deadline:
        letters = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
    assert letters and letters[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert sqs.receive_message(QueueUrl=closed, WaitTimeSeconds=1).get("Messages") is None


def test_a_user_allowed_to_read_a_groups_tags_cannot_change_them(server: LambkinServer) -> None:
    admin = server.client("scheduler")
    arn = admin.create_schedule_group(Name="guarded", Tags=[{"Key": "team", "Value": "data"}])[
        "ScheduleGroupArn"
    ]
    key = user(
        server,
        "tag-reader",
        inline=document({"Effect": "Allow", "Action": "scheduler:ListTagsForResource", "Resource": arn}),
    )
    reader = client(server, "scheduler", key)
    assert reader.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    code, status, message = refused(
        reader.tag_resource, ResourceArn=arn, Tags=[{"Key": "team", "Value": "x"}]
    )
    assert (code, status) == ("AccessDeniedException", 403) and "scheduler:TagResource" in message
    code, status, message = refused(reader.untag_resource, ResourceArn=arn, TagKeys=["team"])
    assert (code, status) == ("AccessDeniedException", 403) and "scheduler:UntagResource" in message
    assert admin.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
