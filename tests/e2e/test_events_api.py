"""EventBridge end to end: boto3 and the AWS CLI against `lambkin server` — buses, rules, targets, PutEvents
reaching queues (whole events and transformed input), TestEventPattern, AWS's errors, and a function target
whose resource policy does not allow EventBridge (its event goes to the target's dead-letter queue)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.e2e.cli import aws
from tests.e2e.lambda_support import allow_destinations, create, create_active, push
from tests.harness import LambkinServer

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def events(server: LambkinServer) -> Any:
    return server.client("events")


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


def queue_for_events(sqs: Any, name: str) -> tuple[str, str]:
    """A queue whose policy lets EventBridge send to it, as a user sets it up for a rule's target."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


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


def error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_test_event_pattern_answers_with_the_matching_engine(events: Any) -> None:
    event = {
        "id": "1",
        "account": ACCOUNT,
        "source": "orders",
        "time": "2026-12-05T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail-type": "Order Placed",
        "detail": {"amount": 150, "country": "FR"},
    }
    pattern = {"source": ["orders"], "detail": {"amount": [{"numeric": [">", 100]}]}}
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]
    pattern = {"detail": {"country": [{"anything-but": ["FR", "DE"]}]}}
    assert not events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]
    with pytest.raises(ClientError) as raised:
        events.test_event_pattern(EventPattern='{"source": "orders"}', Event=json.dumps(event))
    assert error(raised) == (
        "InvalidEventPatternException",
        'Event pattern is not valid. Reason: "source" must be an object or an array',
    )


def test_buses_are_created_described_listed_and_deleted(events: Any) -> None:
    arn = events.create_event_bus(Name="shop", Description="the shop's events")["EventBusArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/shop"
    described = events.describe_event_bus(Name="shop")
    assert (described["Name"], described["Arn"], described["Description"]) == (
        "shop",
        arn,
        "the shop's events",
    )
    assert events.describe_event_bus()["Name"] == "default"
    names = [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]
    assert "default" in names and "shop" in names
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="shop")
    assert error(raised)[0] == "ResourceAlreadyExistsException"
    events.delete_event_bus(Name="shop")
    with pytest.raises(ClientError) as raised:
        events.describe_event_bus(Name="shop")
    assert error(raised) == ("ResourceNotFoundException", "Event bus shop does not exist.")


def test_rules_are_put_described_disabled_and_refuse_bad_input(events: Any) -> None:
    events.create_event_bus(Name="rules-bus")
    pattern = json.dumps({"source": ["app"]})
    arn = events.put_rule(Name="on-app", EventBusName="rules-bus", EventPattern=pattern)["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/rules-bus/on-app"
    described = events.describe_rule(Name="on-app", EventBusName="rules-bus")
    assert (described["State"], described["EventPattern"], described["EventBusName"]) == (
        "ENABLED",
        pattern,
        "rules-bus",
    )
    events.disable_rule(Name="on-app", EventBusName="rules-bus")
    assert events.describe_rule(Name="on-app", EventBusName="rules-bus")["State"] == "DISABLED"
    assert [r["Name"] for r in events.list_rules(EventBusName="rules-bus")["Rules"]] == ["on-app"]
    hourly = events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")["RuleArn"]
    assert hourly == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/hourly"
    refusals = [
        ({"Name": "x", "ScheduleExpression": "rate(1 hours)"}, "Parameter ScheduleExpression is not valid."),
        (
            {"Name": "x", "ScheduleExpression": "cron(0 12 * * * *)"},
            "Parameter ScheduleExpression is not valid.",
        ),
        (
            {"Name": "x", "EventBusName": "rules-bus", "ScheduleExpression": "rate(5 minutes)"},
            "ScheduleExpression is supported only on the default event bus.",
        ),
        ({"Name": "x"}, "Parameter(s) EventPattern or ScheduleExpression must be specified."),
    ]
    for arguments, message in refusals:
        with pytest.raises(ClientError) as raised:
            events.put_rule(**arguments)
        assert error(raised) == ("ValidationException", message)
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="x", EventPattern='{"detail": {"n": [{"numeric": [">", 5, "<", 1]}]}}')
    assert error(raised)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as raised:
        events.describe_rule(Name="nope")
    assert error(raised) == ("ResourceNotFoundException", "Rule nope does not exist on EventBus default.")


def test_put_events_reaches_queues_whole_and_transformed(events: Any, sqs: Any) -> None:
    whole_url, whole_arn = queue_for_events(sqs, "orders-whole")
    shaped_url, shaped_arn = queue_for_events(sqs, "orders-shaped")
    events.create_event_bus(Name="orders")
    events.put_rule(
        Name="big-orders",
        EventBusName="orders",
        EventPattern=json.dumps({"source": ["shop"], "detail": {"amount": [{"numeric": [">=", 100]}]}}),
    )
    events.put_targets(
        Rule="big-orders",
        EventBusName="orders",
        Targets=[
            {"Id": "whole", "Arn": whole_arn},
            {
                "Id": "shaped",
                "Arn": shaped_arn,
                "InputTransformer": {
                    "InputPathsMap": {"who": "$.detail.customer", "amount": "$.detail.amount"},
                    "InputTemplate": '{"text": "<who> spent <amount>", "amount": <amount>, "rule": <aws.events.rule-name>}',
                },
            },
        ],
    )
    assert {
        t["Id"] for t in events.list_targets_by_rule(Rule="big-orders", EventBusName="orders")["Targets"]
    } == {
        "whole",
        "shaped",
    }
    answer = events.put_events(
        Entries=[
            {
                "EventBusName": "orders",
                "Source": "shop",
                "DetailType": "Order",
                "Detail": '{"amount": 250, "customer": "ana"}',
            },
            {
                "EventBusName": "orders",
                "Source": "shop",
                "DetailType": "Order",
                "Detail": '{"amount": 5, "customer": "bo"}',
            },
            {"EventBusName": "orders", "Source": "shop", "DetailType": "Order", "Detail": "{not json"},
            {"EventBusName": "orders", "Source": "shop", "DetailType": "Order"},
        ]
    )
    assert answer["FailedEntryCount"] == 2
    first, second, malformed, missing = answer["Entries"]
    assert "EventId" in first and "EventId" in second
    assert (malformed["ErrorCode"], missing["ErrorCode"]) == ("MalformedDetail", "InvalidArgument")
    (message,) = receive(sqs, whole_url)
    event = json.loads(message["Body"])
    assert event["id"] == first["EventId"]
    assert (event["version"], event["source"], event["detail-type"], event["account"]) == (
        "0",
        "shop",
        "Order",
        ACCOUNT,
    )
    assert event["detail"] == {"amount": 250, "customer": "ana"}
    assert event["resources"] == [] and event["region"] == "us-east-1" and event["time"].endswith("Z")
    (shaped,) = receive(sqs, shaped_url)
    assert json.loads(shaped["Body"]) == {"text": "ana spent 250", "amount": 250, "rule": "big-orders"}
    assert sqs.receive_message(QueueUrl=whole_url, WaitTimeSeconds=1).get("Messages") is None


def test_a_function_that_does_not_allow_eventbridge_gets_nothing_and_the_dlq_the_event(
    events: Any, sqs: Any, lam: Any, server: LambkinServer, tmp_path: Any
) -> None:
    uri, _ = push(server, tmp_path, "events-fn", "v1", "events")
    function_arn = create_active(lam, "no-permission", uri)["FunctionArn"]
    dlq_url, dlq_arn = queue_for_events(sqs, "events-dlq")
    rule_arn = events.put_rule(Name="to-function", EventPattern=json.dumps({"source": ["billing"]}))[
        "RuleArn"
    ]
    events.put_targets(
        Rule="to-function", Targets=[{"Id": "fn", "Arn": function_arn, "DeadLetterConfig": {"Arn": dlq_arn}}]
    )
    sent = events.put_events(Entries=[{"Source": "billing", "DetailType": "Invoice", "Detail": "{}"}])
    (letter,) = receive(sqs, dlq_url)
    assert json.loads(letter["Body"])["id"] == sent["Entries"][0]["EventId"]
    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert (attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]) == ("NO_PERMISSIONS", "0")
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes  # not retried: retrying cannot help
    assert (attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (rule_arn, function_arn)


def test_a_target_that_cannot_take_the_event_yet_is_retried_by_its_policy_then_dead_lettered(
    events: Any, sqs: Any, lam: Any, server: LambkinServer
) -> None:
    create(lam, "never-ready", f"{server.registry}/nothing-here:v1")  # its image is missing: Failed
    with pytest.raises(WaiterError):
        lam.get_waiter("function_active_v2").wait(FunctionName="never-ready", WaiterConfig={"Delay": 1})
    function_arn = lam.get_function(FunctionName="never-ready")["Configuration"]["FunctionArn"]
    dlq_url, dlq_arn = queue_for_events(sqs, "retried-dlq")
    rule_arn = events.put_rule(Name="to-never-ready", EventPattern=json.dumps({"source": ["retried"]}))[
        "RuleArn"
    ]
    policies = {
        "once": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
        "never": {"MaximumRetryAttempts": 0},
    }
    targets = [
        {"Id": name, "Arn": function_arn, "RetryPolicy": policy, "DeadLetterConfig": {"Arn": dlq_arn}}
        for name, policy in policies.items()
    ]
    events.put_targets(Rule="to-never-ready", Targets=targets)
    sent = events.put_events(Entries=[{"Source": "retried", "DetailType": "Job", "Detail": "{}"}])
    assert sent["FailedEntryCount"] == 0  # a target's failure is not the caller's
    letters = receive(sqs, dlq_url, count=2)
    for letter in letters:
        attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
        assert json.loads(letter["Body"])["id"] == sent["Entries"][0]["EventId"]
        assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
        assert (attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (rule_arn, function_arn)
    assert sorted(letter["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] for letter in letters) == [
        "0",
        "1",
    ]


@pytest.mark.runc
def test_an_event_reaches_a_function_whose_policy_allows_the_rule(
    events: Any, sqs: Any, lam: Any, server: LambkinServer, handlers_uri: str
) -> None:
    allow_destinations(server.endpoint)  # the function's role sends its async result to a queue
    records = sqs.create_queue(QueueName="echo-records")["QueueUrl"]
    records_arn = sqs.get_queue_attributes(QueueUrl=records, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    function_arn = create_active(lam, "on-events", handlers_uri, ImageConfig={"Command": ["app.echo"]})[
        "FunctionArn"
    ]
    lam.put_function_event_invoke_config(
        FunctionName="on-events", DestinationConfig={"OnSuccess": {"Destination": records_arn}}
    )
    rule_arn = events.put_rule(Name="to-echo", EventPattern=json.dumps({"detail-type": ["Signup"]}))[
        "RuleArn"
    ]
    lam.add_permission(
        FunctionName="on-events",
        StatementId="from-events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(Rule="to-echo", Targets=[{"Id": "echo", "Arn": function_arn, "InputPath": "$.detail"}])
    events.put_events(Entries=[{"Source": "accounts", "DetailType": "Signup", "Detail": '{"user": "ana"}'}])
    (message,) = receive(sqs, records, limit_s=120)
    record = json.loads(message["Body"])
    assert record["requestPayload"] == {"user": "ana"}
    assert record["responsePayload"] == {"user": "ana"}


def test_the_cli_puts_a_rule_and_events_and_removes_targets(server: LambkinServer, sqs: Any) -> None:
    url, arn = queue_for_events(sqs, "cli-events")
    aws(
        server,
        "events",
        "put-rule",
        "--name",
        "cli-rule",
        "--event-pattern",
        '{"source": [{"prefix": "cli."}]}',
    )
    aws(
        server,
        "events",
        "put-targets",
        "--rule",
        "cli-rule",
        "--targets",
        f"Id=q,Arn={arn},Input='{{\"fixed\":true}}'",
    )
    sent = aws(
        server,
        "events",
        "put-events",
        "--entries",
        json.dumps([{"Source": "cli.tool", "DetailType": "Ping", "Detail": "{}"}]),
    )
    assert sent["FailedEntryCount"] == 0
    (message,) = receive(sqs, url)
    assert json.loads(message["Body"]) == {"fixed": True}
    removed = aws(server, "events", "remove-targets", "--rule", "cli-rule", "--ids", "q", "gone")
    assert removed["FailedEntryCount"] == 1 and removed["FailedEntries"][0]["TargetId"] == "gone"
    aws(server, "events", "delete-rule", "--name", "cli-rule")
    assert "cli-rule" not in [r["Name"] for r in aws(server, "events", "list-rules")["Rules"]]
