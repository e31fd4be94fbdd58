"""STS through the gateway with botocore clients: GetCallerIdentity for the root, a user and an assumed role,
AssumeRole's answers and refusals, and temporary credentials refused once expired or forged."""

from __future__ import annotations

import time
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.sts_api import sts_handlers
from lambkin.credentials import Credentials
from lambkin.identity.keys import Keyring
from lambkin.identity.sts import Sts
from lambkin.protocol.gateway import AwsGateway
from lambkin.testing.clock import ManualClock
from lambkin.testing.identity import FakeDirectory
from tests.unit.identity.directories import add_role, add_user, trust_policy
from tests.unit.protocol.wire import KEY, build, client, echo, send

ACCOUNT = "000000000000"
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
ALICE = Credentials("AKIAALICE00000000000", "alice-secret")
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"


def served(clock: ManualClock | None = None) -> tuple[AwsAsgi, FakeDirectory]:
    """STS (and one Lambda operation) over a keyring of the server key, alice's key, and sessions that
    alice may start of the roles that trust her; sessions start at the clock's time (the real time by
    default)."""
    directory = FakeDirectory()
    add_user(directory, "alice", ALICE.access_key_id, ALICE.secret_access_key)
    keys = Keyring(KEY, ACCOUNT, directory)
    sts = Sts(
        directory,
        keys.sessions,
        clock or ManualClock(time.time()),
    )
    get_function, _ = echo({})
    services = {"sts": sts_handlers(sts), "lambda": {"GetFunction": get_function}}
    return AwsAsgi(AwsGateway(services, ACCOUNT, keys)), directory


def assumed(app: AwsAsgi, role_arn: str, duration: int = 900) -> dict[str, Any]:
    answer: dict[str, Any] = client(app, "sts", key=ALICE).assume_role(
        RoleArn=role_arn, RoleSessionName="build-42", DurationSeconds=duration
    )
    return answer


def as_session(app: AwsAsgi, service: str, credentials: dict[str, Any]) -> Any:
    key = Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"])
    return client(app, service, key=key, token=credentials["SessionToken"])


def test_get_caller_identity_of_the_root_and_of_a_user() -> None:
    app, _ = served()

    me = client(app, "sts").get_caller_identity()
    alice = client(app, "sts", key=ALICE).get_caller_identity()

    assert (me["UserId"], me["Account"], me["Arn"]) == (ACCOUNT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")
    assert alice["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert alice["UserId"].startswith("AIDA") and alice["Account"] == ACCOUNT


def test_an_assumed_roles_temporary_credentials_sign_as_its_session() -> None:
    app, directory = served()
    role = add_role(directory, "deployer", trust_policy(ALICE_ARN))

    answer = assumed(app, role.arn)
    me = as_session(app, "sts", answer["Credentials"]).get_caller_identity()

    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert answer["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role.role_id}:build-42",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42",
    }
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42"
    assert me["UserId"] == f"{role.role_id}:build-42"
    remaining = answer["Credentials"]["Expiration"].timestamp() - time.time()
    assert 800 < remaining <= 900


def test_refusals_are_sts_errors_with_awss_codes_statuses_and_words() -> None:
    app, directory = served()
    role = add_role(directory, "deployer", trust_policy(ALICE_ARN))
    asked = {"RoleArn": role.arn, "RoleSessionName": "s1"}

    with pytest.raises(ClientError) as missing:
        assumed(app, f"arn:aws:iam::{ACCOUNT}:role/gone")
    with pytest.raises(ClientError) as by_root:
        client(app, "sts").assume_role(RoleArn=role.arn, RoleSessionName="s1")
    with pytest.raises(ClientError) as too_long:
        assumed(app, role.arn, duration=3601)
    too_short = send(app, build("sts", "AssumeRole", {**asked, "DurationSeconds": 899}, credentials=ALICE))

    assert missing.value.response["Error"]["Code"] == "AccessDenied"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert missing.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: sts:AssumeRole "
        f"on resource: arn:aws:iam::{ACCOUNT}:role/gone"
    )
    assert by_root.value.response["Error"]["Message"] == "Roles may not be assumed by root accounts."
    assert too_long.value.response["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    }
    assert too_short.status == 400
    assert ElementTree.fromstring(too_short.body).findtext(f"{NS}Error/{NS}Message") == (
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )


def test_expired_temporary_credentials_are_refused_as_aws_refuses_them() -> None:
    app, directory = served(ManualClock(time.time() - 1000))  # the session ended 100 s ago
    role = add_role(directory, "deployer", trust_policy(ALICE_ARN))
    credentials = assumed(app, role.arn)["Credentials"]

    with pytest.raises(ClientError) as by_sts:
        as_session(app, "sts", credentials).get_caller_identity()
    with pytest.raises(ClientError) as by_lambda:
        as_session(app, "lambda", credentials).get_function(FunctionName="f")

    assert by_sts.value.response["Error"]["Code"] == "ExpiredToken"
    assert (
        by_sts.value.response["Error"]["Message"] == "The security token included in the request is expired"
    )
    assert by_sts.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert by_lambda.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert by_lambda.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_temporary_key_with_a_forged_or_missing_token_is_unrecognized() -> None:
    app, directory = served()
    role = add_role(directory, "deployer", trust_policy(ALICE_ARN))
    credentials = assumed(app, role.arn)["Credentials"]
    key = Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"])

    for token in (credentials["SessionToken"][:-4] + "AAAA", None):
        with pytest.raises(ClientError) as refused:
            client(app, "sts", key=key, token=token).get_caller_identity()
        assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
        assert (
            refused.value.response["Error"]["Message"]
            == "The security token included in the request is invalid."
        )
