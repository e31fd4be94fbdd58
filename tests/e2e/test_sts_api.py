"""STS with boto3 and the AWS CLI against a running server: who each kind of key signs as, AssumeRole's
temporary credentials in use, refused once expired, and still good after a restart (nothing stored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.cli import aws
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

ACCOUNT = "000000000000"


def user_with_role(server: LambkinServer, name: str) -> tuple[tuple[str, str], str]:
    """A user with an access key, and a role whose trust policy names the user: (its key, the role's ARN)."""
    iam = server.client("iam")
    user = iam.create_user(UserName=name)["User"]
    created = iam.create_access_key(UserName=name)["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=f"{name}-deployer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    return (created["AccessKeyId"], created["SecretAccessKey"]), role["Arn"]


def session_of(credentials: dict[str, Any]) -> tuple[tuple[str, str], str]:
    return (credentials["AccessKeyId"], credentials["SecretAccessKey"]), credentials["SessionToken"]


def test_the_server_key_is_the_account_root(server: LambkinServer) -> None:
    assert aws(server, "sts", "get-caller-identity") == {
        "UserId": ACCOUNT,
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
    }


def test_a_user_assumes_a_role_and_its_temporary_credentials_sign_as_the_session(
    server: LambkinServer,
) -> None:
    user_key, role_arn = user_with_role(server, "alice")

    me = server.client("sts", user_key).get_caller_identity()
    answer = server.client("sts", user_key).assume_role(RoleArn=role_arn, RoleSessionName="build-42")
    key, token = session_of(answer["Credentials"])
    by_boto3 = server.client("sts", key, token).get_caller_identity()
    by_cli = aws(server, "sts", "get-caller-identity", key=key, token=token)

    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice" and me["UserId"].startswith("AIDA")
    assert key[0].startswith("ASIA")
    role_id = server.client("iam").get_role(RoleName="alice-deployer")["Role"]["RoleId"]
    assert by_boto3["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/alice-deployer/build-42"
    assert by_boto3["UserId"] == f"{role_id}:build-42" == answer["AssumedRoleUser"]["AssumedRoleId"]
    assert by_cli == {k: by_boto3[k] for k in ("UserId", "Account", "Arn")}


def test_the_cli_assumes_a_role_and_signs_with_its_session(server: LambkinServer) -> None:
    user_key, role_arn = user_with_role(server, "erin")

    answer = aws(
        server, "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "cli", key=user_key
    )
    key, token = session_of(answer["Credentials"])

    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/erin-deployer/cli"
    assert aws(server, "sts", "get-caller-identity", key=key, token=token)["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/erin-deployer/cli"
    )


def test_assume_role_refusals_read_as_aws_words_them(server: LambkinServer) -> None:
    user_key, role_arn = user_with_role(server, "bob")
    sts = server.client("sts", user_key)

    with pytest.raises(ClientError) as untrusted:
        server.client("sts", (ACCESS_KEY_ID, SECRET_ACCESS_KEY)).assume_role(
            RoleArn=role_arn, RoleSessionName="s1"
        )
    with pytest.raises(ClientError) as missing:
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nobody", RoleSessionName="s1")
    with pytest.raises(ClientError) as too_long:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7200)
    with pytest.raises(ClientError) as bad_name:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="has spaces")

    assert untrusted.value.response["Error"]["Message"] == "Roles may not be assumed by root accounts."
    assert missing.value.response["Error"]["Code"] == "AccessDenied"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert missing.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: sts:AssumeRole "
        f"on resource: arn:aws:iam::{ACCOUNT}:role/nobody"
    )
    assert too_long.value.response["Error"]["Code"] == "ValidationError"
    assert too_long.value.response["Error"]["Message"] == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )
    assert bad_name.value.response["Error"]["Code"] == "ValidationError"


def test_temporary_credentials_outlive_a_restart_and_forged_tokens_are_refused(server: LambkinServer) -> None:
    user_key, role_arn = user_with_role(server, "carol")
    credentials = server.client("sts", user_key).assume_role(RoleArn=role_arn, RoleSessionName="s1")[
        "Credentials"
    ]
    key, token = session_of(credentials)

    server.restart()
    after = server.client("sts", key, token).get_caller_identity()
    with pytest.raises(ClientError) as forged:
        server.client("sts", key, token.replace(token[-8:], "AAAAAAAA")).get_caller_identity()

    assert after["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/carol-deployer/s1"
    assert forged.value.response["Error"]["Code"] == "InvalidClientTokenId"


@pytest.fixture(scope="module")
def hasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    """A server whose AssumeRole sessions are over as soon as they are issued (a test setting)."""
    instance = LambkinServer(
        Path(tmp_path_factory.mktemp("hasty")) / "data", env={"LAMBKIN_SESSION_DURATION_SCALE": "0"}
    ).start()
    try:
        yield instance
    finally:
        instance.stop()


def test_expired_session_credentials_are_refused_by_every_service(hasty: LambkinServer) -> None:
    user_key, role_arn = user_with_role(hasty, "dave")
    credentials = hasty.client("sts", user_key).assume_role(RoleArn=role_arn, RoleSessionName="s1")[
        "Credentials"
    ]
    key, token = session_of(credentials)

    with pytest.raises(ClientError) as by_sts:
        hasty.client("sts", key, token).get_caller_identity()
    with pytest.raises(ClientError) as by_lambda:
        hasty.client("lambda", key, token).list_functions()
    with pytest.raises(ClientError) as by_sqs:
        hasty.client("sqs", key, token).list_queues()

    expired = "The security token included in the request is expired"
    assert by_sts.value.response["Error"] == {"Type": "Sender", "Code": "ExpiredToken", "Message": expired}
    assert by_lambda.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert by_sqs.value.response["Error"]["Code"] == "ExpiredToken"  # the query code of SQS's json protocol
    for refused in (by_sts, by_lambda, by_sqs):
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
