"""The event source mapping operations through boto3 and the AWS CLI: fields, states, validation, persistence."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.cli import run_aws
from tests.e2e.lambda_support import (
    BASIC_EXECUTION,
    QUEUE_EXECUTION,
    TRUST_POLICY,
    allow_queue_polling,
    create_active,
    push,
)
from tests.harness import REGION, LambkinServer

ACCOUNT = "000000000000"


def aws(server: LambkinServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_aws(server, "lambda", *args)


def settled(lam: Any, uuid: str, state: str) -> dict[str, Any]:
    """Polls until the mapping reaches `state` (the supervisor settles a transient state at once)."""
    for _ in range(200):
        got: dict[str, Any] = lam.get_event_source_mapping(UUID=uuid)
        if got["State"] == state:
            return got
        time.sleep(0.05)
    raise AssertionError(f"mapping {uuid} stayed {got['State']}, wanted {state}")


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def sqs(server: LambkinServer) -> Any:
    return server.client("sqs")


@pytest.fixture(scope="module")
def function(server: LambkinServer, lam: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = push(server, tmp_path_factory.mktemp("images"), "esm-app", "v1", "esm")[0]
    allow_queue_polling(server.endpoint)
    create_active(lam, "consumer", uri, Timeout=10)
    create_active(lam, "slow", uri, Timeout=60)
    lam.publish_version(FunctionName="consumer")
    lam.create_alias(FunctionName="consumer", Name="live", FunctionVersion="1")
    return "consumer"


def queue_arn(sqs: Any, name: str, **attributes: str) -> str:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


def test_create_get_update_delete_with_boto3(lam: Any, sqs: Any, function: str) -> None:
    arn = queue_arn(sqs, "crud")
    created = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function,
        BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:consumer"
    assert created["EventSourceArn"] == arn
    assert created["BatchSize"] == 5
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert created["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    uuid = created["UUID"]
    enabled = settled(lam, uuid, "Enabled")
    assert enabled["LastModified"].timestamp() == pytest.approx(created["LastModified"].timestamp(), abs=5)

    disabling = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabling["State"] == "Disabling"
    settled(lam, uuid, "Disabled")
    updating = lam.update_event_source_mapping(
        UUID=uuid, BatchSize=100, MaximumBatchingWindowInSeconds=2, FunctionResponseTypes=[]
    )
    assert updating["State"] == "Updating"
    disabled = settled(lam, uuid, "Disabled")
    assert (disabled["BatchSize"], disabled["MaximumBatchingWindowInSeconds"]) == (100, 2)
    assert disabled["FunctionResponseTypes"] == []
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    settled(lam, uuid, "Enabled")

    deleting = lam.delete_event_source_mapping(UUID=uuid)
    assert deleting["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleting["State"] == "Deleting"
    for _ in range(200):
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the mapping was never deleted")


def test_function_name_in_every_form(lam: Any, sqs: Any, function: str) -> None:
    arn = queue_arn(sqs, "forms")
    full = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:consumer"
    by_alias = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{full}:live")
    assert by_alias["FunctionArn"] == f"{full}:live"
    partial = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{ACCOUNT}:function:consumer")
    assert partial["FunctionArn"] == full
    version = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="consumer:1")
    assert version["FunctionArn"] == f"{full}:1"
    with pytest.raises(ClientError) as exc:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=full)
    kind, message = code(exc)
    assert kind == "ResourceConflictException"
    assert partial["UUID"] in message
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert {m["UUID"] for m in listed} == {by_alias["UUID"], partial["UUID"], version["UUID"]}
    only_alias = lam.list_event_source_mappings(FunctionName="consumer:live")["EventSourceMappings"]
    assert [m["UUID"] for m in only_alias] == [by_alias["UUID"]]


def test_validation_errors(lam: Any, sqs: Any, function: str) -> None:
    arn = queue_arn(sqs, "checks", VisibilityTimeout="30")
    fifo = queue_arn(sqs, "checks.fifo", FifoQueue="true")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"FunctionName": "slow"}, "InvalidParameterValueException",
         "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"),
        ({"FunctionName": function, "BatchSize": 11}, "InvalidParameterValueException",
         "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"),
        ({"FunctionName": function, "BatchSize": 10001}, "ValidationException", "BatchSize"),
        ({"FunctionName": function, "MaximumBatchingWindowInSeconds": 301}, "ValidationException",
         "MaximumBatchingWindowInSeconds"),
        ({"FunctionName": function, "ScalingConfig": {"MaximumConcurrency": 1001}}, "ValidationException",
         "MaximumConcurrency"),
        ({"FunctionName": function, "StartingPosition": "LATEST"}, "InvalidParameterValueException",
         "Unsupported StartingPosition parameter"),
        ({"FunctionName": "no-such-fn"}, "ResourceNotFoundException", "Function not found"),
        ({"FunctionName": function, "EventSourceArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:missing"},
         "InvalidParameterValueException", "AWS.SimpleQueueService.NonExistentQueue"),
        ({"FunctionName": function, "EventSourceArn": fifo, "BatchSize": 20,
          "MaximumBatchingWindowInSeconds": 1}, "InvalidParameterValueException", "FIFO"),
    ]  # fmt: skip
    for params, want_code, want_text in cases:
        request = {"EventSourceArn": arn, **params}
        with pytest.raises(ClientError) as exc:
            lam.create_event_source_mapping(**request)
        kind, message = code(exc)
        assert (kind, want_text.lower() in message.lower()) == (want_code, True), (params, kind, message)
    with pytest.raises(ClientError) as exc:
        lam.get_event_source_mapping(UUID="6f3a7f36-0000-4000-8000-000000000000")
    assert code(exc)[0] == "ResourceNotFoundException"


def test_pagination(lam: Any, sqs: Any, function: str) -> None:
    made = set()
    for index in range(5):
        arn = queue_arn(sqs, f"page-{index}")
        made.add(lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function)["UUID"])
    seen: list[str] = []
    marker: str | None = None
    while True:
        extra = {"Marker": marker} if marker else {}
        page = lam.list_event_source_mappings(FunctionName=function, MaxItems=2, **extra)
        assert len(page["EventSourceMappings"]) <= 2
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    paginated = lam.get_paginator("list_event_source_mappings").paginate(
        FunctionName=function, PaginationConfig={"PageSize": 3}
    )
    assert [m["UUID"] for p in paginated for m in p["EventSourceMappings"]] == seen


def test_aws_cli_drives_every_operation(server: LambkinServer, sqs: Any, function: str) -> None:
    arn = queue_arn(sqs, "cli")
    created = aws(server, "create-event-source-mapping", "--event-source-arn", arn,
                  "--function-name", function, "--batch-size", "7")  # fmt: skip
    assert created.returncode == 0, created.stderr
    uuid = json.loads(created.stdout)["UUID"]
    got = json.loads(aws(server, "get-event-source-mapping", "--uuid", uuid).stdout)
    assert got["BatchSize"] == 7
    listed = json.loads(aws(server, "list-event-source-mappings", "--event-source-arn", arn).stdout)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [uuid]
    for _ in range(100):
        updated = aws(server, "update-event-source-mapping", "--uuid", uuid, "--no-enabled")
        if updated.returncode == 0:
            break
        assert "ResourceInUseException" in updated.stderr
        time.sleep(0.05)
    assert json.loads(updated.stdout)["State"] == "Disabling"
    deleted = aws(server, "delete-event-source-mapping", "--uuid", uuid)
    for _ in range(100):
        if deleted.returncode == 0:
            break
        deleted = aws(server, "delete-event-source-mapping", "--uuid", uuid)
        time.sleep(0.05)
    assert json.loads(deleted.stdout)["State"] == "Deleting"
    for _ in range(100):
        failed = aws(server, "get-event-source-mapping", "--uuid", uuid)
        if failed.returncode != 0:
            break
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr
    refused = aws(server, "create-event-source-mapping", "--event-source-arn", arn, "--function-name", "slow")
    assert refused.returncode != 0
    assert "InvalidParameterValueException" in refused.stderr
    assert "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds" in refused.stderr
    again = aws(server, "create-event-source-mapping", "--event-source-arn", arn, "--function-name", function)
    assert again.returncode == 0, again.stderr
    duplicate = aws(
        server, "create-event-source-mapping", "--event-source-arn", arn, "--function-name", function
    )
    assert "ResourceConflictException" in duplicate.stderr


def test_mappings_survive_a_restart(server: LambkinServer, lam: Any, sqs: Any, function: str) -> None:
    arn = queue_arn(sqs, "durable")
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, BatchSize=3)["UUID"]
    server.restart(kill=True)
    fresh = server.client("lambda")
    got = settled(fresh, uuid, "Enabled")
    assert (got["BatchSize"], got["EventSourceArn"]) == (3, arn)


def test_a_role_without_queue_permissions_cannot_be_mapped(
    server: LambkinServer, lam: Any, sqs: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    iam = server.client("iam")
    role = iam.create_role(RoleName="no-queue-access", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="no-queue-access", PolicyArn=BASIC_EXECUTION)
    uri = push(server, tmp_path_factory.mktemp("images"), "esm-app", "v1", "esm")[0]
    lam.create_function(FunctionName="unmapped", Role=role, PackageType="Image", Code={"ImageUri": uri})
    url = sqs.create_queue(QueueName="guarded")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="unmapped")
    assert code(refused) == (
        "InvalidParameterValueException",
        "The provided execution role does not have permissions to call ReceiveMessage on SQS",
    )
    iam.put_role_policy(
        RoleName="no-queue-access",
        PolicyName="receive",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": arn}],
            }
        ),
    )
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="unmapped")
    assert (
        code(refused)[1]
        == "The provided execution role does not have permissions to call DeleteMessage on SQS"
    )
    iam.attach_role_policy(RoleName="no-queue-access", PolicyArn=QUEUE_EXECUTION)
    mapped = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="unmapped")
    assert mapped["EventSourceArn"] == arn
