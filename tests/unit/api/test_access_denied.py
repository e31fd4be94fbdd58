"""AccessDenied on the wire, as botocore reads it: a signed caller that is not the root, refused by its
policies, gets each service's own error (Lambda and Logs AccessDeniedException, SQS AccessDenied in both
protocols, IAM AccessDenied), with AWS's message; what its policies allow reaches the handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambkin.api.authorize import build_authorize, fixed
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.keys import Key
from lambkin.identity.principals import Principal
from lambkin.protocol.gateway import AwsGateway
from lambkin.testing.identity import FakeDirectory
from tests.unit.protocol.wire import KEY, client, echo, write_query_model

ACCOUNT = "000000000000"
USER = Principal("user", f"arn:aws:iam::{ACCOUNT}:user/dev", ACCOUNT, "AIDAEXAMPLE", "dev")
QUEUE_URL = f"http://localhost:9000/{ACCOUNT}/jobs"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"


def app() -> AwsAsgi:
    handler, _ = echo()
    services = {
        "lambda": {"ListFunctions": handler, "GetAccountSettings": handler},
        "sqs": {"ListQueues": handler, "PurgeQueue": handler},
        "logs": {"DescribeLogGroups": handler},
        "iam": {"ListRoles": handler},
    }
    tables = {
        "lambda": {
            "ListFunctions": fixed("lambda:ListFunctions"),
            "GetAccountSettings": fixed("lambda:GetAccountSettings"),
        },
        "sqs": {"ListQueues": fixed("sqs:ListQueues"), "PurgeQueue": fixed("sqs:PurgeQueue", QUEUE_ARN)},
        "logs": {"DescribeLogGroups": fixed("logs:DescribeLogGroups")},
        "iam": {"ListRoles": fixed("iam:ListRoles", f"arn:aws:iam::{ACCOUNT}:role/")},
    }
    directory = FakeDirectory()
    allowed = {"Effect": "Allow", "Action": ["lambda:ListFunctions", "sqs:ListQueues"], "Resource": "*"}
    directory.attach(USER.arn, json.dumps({"Version": "2012-10-17", "Statement": [allowed]}))

    def keys(access_key_id: str, token: str | None) -> Key | None:
        return Key(KEY.secret_access_key, USER) if access_key_id == KEY.access_key_id else None

    authorize = build_authorize(Authorizer(directory, ACCOUNT), tables, services)
    return AwsAsgi(AwsGateway(services, ACCOUNT, keys, authorize=authorize))


def refused(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def denied(action: str, resource: str) -> str:
    return (
        f"User: {USER.arn} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def test_lambda_answers_access_denied_exception() -> None:
    lam = client(app(), "lambda")
    assert lam.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert refused(lam.get_account_settings) == (
        "AccessDeniedException",
        403,
        denied("lambda:GetAccountSettings", "*"),
    )


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_sqs_answers_access_denied_in_both_protocols(protocol: str, tmp_path: Path) -> None:
    sqs = client(app(), "sqs", model_dir=write_query_model(tmp_path) if protocol == "query" else None)
    assert sqs.meta.service_model.protocol == protocol
    sqs.list_queues()
    assert refused(sqs.purge_queue, QueueUrl=QUEUE_URL) == (
        "AccessDenied",
        403,
        denied("sqs:PurgeQueue", QUEUE_ARN),
    )


def test_logs_answers_access_denied_exception() -> None:
    logs = client(app(), "logs")
    assert refused(logs.describe_log_groups) == (
        "AccessDeniedException",
        400,
        denied("logs:DescribeLogGroups", "*"),
    )


def test_iam_answers_access_denied() -> None:
    iam = client(app(), "iam")
    assert refused(iam.list_roles) == (
        "AccessDenied",
        403,
        denied("iam:ListRoles", f"arn:aws:iam::{ACCOUNT}:role/"),
    )
