"""Resource-based policies through boto3 and the AWS CLI: Lambda AddPermission / GetPolicy / RemovePermission,
and an SQS queue's Policy with SQS AddPermission / RemovePermission (both SQS protocols)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.cli import aws
from tests.e2e.lambda_support import create, create_active, push
from tests.e2e.test_sqs_api import PROTOCOLS, make_client
from tests.harness import LambkinServer

FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:"


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Iterator[Any]:
    yield server.client("lambda")


@pytest.fixture(scope="module")
def image(server: LambkinServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    uri, _ = push(server, tmp_path_factory.mktemp("images"), "policy-app", "v1", "policies")
    return uri


def test_add_permission_for_a_service_writes_lambdas_statement(lam: Any, image: str) -> None:
    create_active(lam, "granted", image)  # settled: its RevisionId no longer changes
    added = lam.add_permission(
        FunctionName="granted",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn="arn:aws:events:us-east-1:000000000000:rule/nightly",
        SourceAccount="000000000000",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "events",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": FUNCTION_ARN + "granted",
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": "000000000000"},
            "ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:000000000000:rule/nightly"},
        },
    }
    lam.add_permission(
        FunctionName=FUNCTION_ARN + "granted",
        StatementId="account",
        Action="lambda:GetFunction",
        Principal="111122223333",
    )
    got = lam.get_policy(FunctionName="granted")
    policy = json.loads(got["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2012-10-17", "default")
    assert [s["Sid"] for s in policy["Statement"]] == ["events", "account"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert got["RevisionId"] == lam.get_function(FunctionName="granted")["Configuration"]["RevisionId"]


def test_a_statement_id_is_used_once(lam: Any, image: str) -> None:
    create(lam, "twice", image)
    grant = {"FunctionName": "twice", "StatementId": "s", "Action": "lambda:*", "Principal": "*"}
    lam.add_permission(**grant)
    code, status, message = error_of(lam.add_permission, **grant)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (
        "The statement id (s) provided already exists. Please provide a new statement id, "
        "or remove the existing statement."
    )


def test_remove_permission_takes_a_statement_back_and_the_last_one_the_policy(lam: Any, image: str) -> None:
    create(lam, "revoked", image)
    for sid in ("one", "two"):
        lam.add_permission(
            FunctionName="revoked",
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
        )
    assert (
        lam.remove_permission(FunctionName="revoked", StatementId="one")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    left = json.loads(lam.get_policy(FunctionName="revoked")["Policy"])["Statement"]
    assert [s["Sid"] for s in left] == ["two"]
    code, status, message = error_of(lam.remove_permission, FunctionName="revoked", StatementId="one")
    assert (code, status) == ("ResourceNotFoundException", 404)
    lam.remove_permission(FunctionName="revoked", StatementId="two")
    code, status, message = error_of(lam.get_policy, FunctionName="revoked")
    assert (code, status, message) == (
        "ResourceNotFoundException",
        404,
        "The resource you requested does not exist.",
    )
    code, _, message = error_of(lam.remove_permission, FunctionName="revoked", StatementId="two")
    assert (code, message) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )


def test_version_and_alias_policies_are_their_own(lam: Any, image: str, server: LambkinServer) -> None:
    create(lam, "qualified", image)
    lam.get_waiter("function_active_v2").wait(FunctionName="qualified", WaiterConfig={"Delay": 0.2})
    version = lam.publish_version(FunctionName="qualified")["Version"]
    lam.create_alias(FunctionName="qualified", Name="live", FunctionVersion=version)
    statement = json.loads(
        lam.add_permission(
            FunctionName="qualified",
            Qualifier="live",
            StatementId="url",
            Action="lambda:InvokeFunctionUrl",
            Principal="*",
            FunctionUrlAuthType="NONE",
        )["Statement"]
    )
    assert statement["Resource"] == FUNCTION_ARN + "qualified:live"
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert error_of(lam.get_policy, FunctionName="qualified")[0] == "ResourceNotFoundException"
    assert (
        error_of(lam.get_policy, FunctionName="qualified", Qualifier=version)[0]
        == "ResourceNotFoundException"
    )
    cli = aws(server, "lambda", "get-policy", "--function-name", "qualified:live")
    assert [s["Sid"] for s in json.loads(cli["Policy"])["Statement"]] == ["url"]
    code, status, message = error_of(
        lam.add_permission,
        FunctionName="qualified",
        Qualifier="$LATEST",
        StatementId="x",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    assert (code, status, message) == (
        "InvalidParameterValueException",
        400,
        "We currently do not support adding policies for $LATEST.",
    )
    lam.delete_alias(FunctionName="qualified", Name="live")
    lam.create_alias(FunctionName="qualified", Name="live", FunctionVersion=version)
    assert error_of(lam.get_policy, FunctionName="qualified:live")[0] == "ResourceNotFoundException"


def test_a_stale_revision_id_is_refused(lam: Any, image: str) -> None:
    create_active(lam, "revisions", image)
    code, status, _ = error_of(
        lam.add_permission,
        FunctionName="revisions",
        StatementId="s",
        Action="lambda:InvokeFunction",
        Principal="*",
        RevisionId="00000000-0000-0000-0000-000000000000",
    )
    assert (code, status) == ("PreconditionFailedException", 412)
    current = lam.get_function(FunctionName="revisions")["Configuration"]["RevisionId"]
    lam.add_permission(
        FunctionName="revisions",
        StatementId="s",
        Action="lambda:InvokeFunction",
        Principal="*",
        RevisionId=current,
    )


def test_policies_of_missing_functions_and_bad_principals(lam: Any, image: str) -> None:
    code, status, message = error_of(lam.get_policy, FunctionName="nobody")
    assert (code, status, message) == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {FUNCTION_ARN}nobody",
    )
    create(lam, "principals", image)
    code, status, message = error_of(
        lam.add_permission,
        FunctionName="principals",
        StatementId="bad",
        Action="lambda:InvokeFunction",
        Principal="somebody",
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == "The provided principal was invalid. Please check the principal and try again."


def test_a_policy_goes_with_its_function(lam: Any, image: str) -> None:
    create(lam, "reborn", image)
    lam.add_permission(FunctionName="reborn", StatementId="s", Action="lambda:InvokeFunction", Principal="*")
    lam.delete_function(FunctionName="reborn")
    create(lam, "reborn", image)
    assert error_of(lam.get_policy, FunctionName="reborn")[0] == "ResourceNotFoundException"


def test_the_cli_adds_gets_and_removes_permissions(server: LambkinServer, lam: Any, image: str) -> None:
    create(lam, "by-cli", image)
    added = aws(
        server,
        "lambda",
        "add-permission",
        "--function-name",
        "by-cli",
        "--statement-id",
        "sns",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "sns.amazonaws.com",
    )
    assert json.loads(added["Statement"])["Principal"] == {"Service": "sns.amazonaws.com"}
    policy = json.loads(aws(server, "lambda", "get-policy", "--function-name", "by-cli")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["sns"]
    aws(server, "lambda", "remove-permission", "--function-name", "by-cli", "--statement-id", "sns")
    assert error_of(lam.get_policy, FunctionName="by-cli")[0] == "ResourceNotFoundException"


# --- SQS ---


@pytest.fixture(params=PROTOCOLS)
def sqs(request: pytest.FixtureRequest, server: LambkinServer, tmp_path: Path) -> Iterator[Any]:
    yield make_client(server, request.param, tmp_path / "models")


def policy_of(sqs: Any, url: str) -> Any:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    return json.loads(attributes["Policy"]) if "Policy" in attributes else None


def test_sqs_add_permission_writes_the_queue_policy(sqs: Any, request: pytest.FixtureRequest) -> None:
    name = f"shared-{request.node.callspec.id}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    sqs.add_permission(
        QueueUrl=url,
        Label="consume",
        AWSAccountIds=["111122223333", "444455556666"],
        Actions=["ReceiveMessage", "DeleteMessage"],
    )
    assert policy_of(sqs, url) == {
        "Version": "2012-10-17",
        "Id": f"{QUEUE_ARN}{name}/SQSDefaultPolicy",
        "Statement": [
            {
                "Sid": "send",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "SQS:SendMessage",
                "Resource": QUEUE_ARN + name,
            },
            {
                "Sid": "consume",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"]},
                "Action": ["SQS:ReceiveMessage", "SQS:DeleteMessage"],
                "Resource": QUEUE_ARN + name,
            },
        ],
    }
    with pytest.raises(ClientError) as caught:
        sqs.add_permission(
            QueueUrl=url, Label="send", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert caught.value.response["Error"]["Message"] == (
        "Value send for parameter Label is invalid. Reason: Already exists."
    )
    sqs.remove_permission(QueueUrl=url, Label="send")
    assert [s["Sid"] for s in policy_of(sqs, url)["Statement"]] == ["consume"]
    sqs.remove_permission(QueueUrl=url, Label="consume")
    assert policy_of(sqs, url) is None
    with pytest.raises(ClientError) as caught:
        sqs.remove_permission(QueueUrl=url, Label="consume")
    assert caught.value.response["Error"]["Message"] == (
        "Value consume for parameter Label is invalid. Reason: can't find label on existing policy."
    )


def test_sqs_refuses_owner_only_actions_and_too_many(sqs: Any, request: pytest.FixtureRequest) -> None:
    url = sqs.create_queue(QueueName=f"owner-only-{request.node.callspec.id}")["QueueUrl"]
    with pytest.raises(ClientError) as caught:
        sqs.add_permission(QueueUrl=url, Label="x", AWSAccountIds=["111122223333"], Actions=["DeleteQueue"])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert caught.value.response["Error"]["Message"] == (
        "Value SQS:DeleteQueue for parameter ActionName is invalid. "
        "Reason: Only the queue owner is allowed to invoke this action."
    )
    with pytest.raises(ClientError) as caught:
        sqs.add_permission(
            QueueUrl=url, Label="x", AWSAccountIds=["111122223333"], Actions=["SendMessage"] * 8
        )
    assert caught.value.response["Error"]["Code"] == "OverLimit"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as caught:
        sqs.add_permission(QueueUrl=url, Label="no spaces", AWSAccountIds=["111122223333"], Actions=["*"])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert caught.value.response["Error"]["Message"] == (
        "Value no spaces for parameter Label is invalid. Reason: Can only include alphanumeric characters, "
        "hyphens, or underscores. 1 to 80 in length."
    )


def test_a_queue_policy_set_as_an_attribute_is_read_back_and_cleared(
    sqs: Any, request: pytest.FixtureRequest
) -> None:
    name = f"policy-attr-{request.node.callspec.id}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE_ARN + name,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})
    assert policy_of(sqs, url) == document
    with pytest.raises(ClientError) as caught:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "not json"})
    assert caught.value.response["Error"]["Code"] == "InvalidAttributeValue"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert policy_of(sqs, url) is None


def test_the_cli_shares_a_queue(server: LambkinServer) -> None:
    url = aws(server, "sqs", "create-queue", "--queue-name", "cli-shared")["QueueUrl"]
    aws(
        server,
        "sqs",
        "add-permission",
        "--queue-url",
        url,
        "--label",
        "partner",
        "--aws-account-ids",
        "111122223333",
        "--actions",
        "SendMessage",
    )
    attributes = aws(server, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "Policy")
    assert [s["Sid"] for s in json.loads(attributes["Attributes"]["Policy"])["Statement"]] == ["partner"]
    aws(server, "sqs", "remove-permission", "--queue-url", url, "--label", "partner")
