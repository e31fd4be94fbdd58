"""The IAM API with boto3 and the AWS CLI against a running server: roles and their trust policies, inline
and managed policies (AWS's own among them), users and access keys, IAM's errors and paging."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.cli import parsed, run_aws
from tests.harness import LambkinServer

ACCOUNT = "000000000000"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SEND = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:jobs"}],
}


@pytest.fixture(scope="module")
def iam(server: LambkinServer) -> Any:
    return server.client("iam")


def cli(server: LambkinServer, *args: str, ok: bool = True) -> Any:
    done = run_aws(server, "iam", *args)
    if not ok:
        assert done.returncode != 0
        return done.stderr
    return parsed(done)


def code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_the_cli_creates_an_execution_role_the_way_the_lambda_guide_does(
    server: LambkinServer, tmp_path: Path
) -> None:
    trust = tmp_path / "trust-policy.json"
    trust.write_text(json.dumps(TRUST, indent=2))
    created = cli(
        server, "create-role", "--role-name", "lambda-ex", "--assume-role-policy-document", f"file://{trust}"
    )
    role = created["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/lambda-ex"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", role["RoleId"])
    assert role["AssumeRolePolicyDocument"] == TRUST  # sent URL-encoded, decoded by the CLI
    cli(server, "attach-role-policy", "--role-name", "lambda-ex", "--policy-arn", BASIC)
    attached = cli(server, "list-attached-role-policies", "--role-name", "lambda-ex")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    got = cli(server, "get-role", "--role-name", "lambda-ex")["Role"]
    assert got["RoleId"] == role["RoleId"] and got["MaxSessionDuration"] == 3600


def test_the_cli_refuses_a_malformed_policy(server: LambkinServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"')
    stderr = cli(
        server, "create-policy", "--policy-name", "bad", "--policy-document", f"file://{bad}", ok=False
    )
    assert "(MalformedPolicyDocument) when calling the CreatePolicy operation" in stderr


def test_the_cli_creates_a_user_and_an_access_key(server: LambkinServer) -> None:
    user = cli(server, "create-user", "--user-name", "deployer")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/deployer"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"])
    key = cli(server, "create-access-key", "--user-name", "deployer")["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"])
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    listed = cli(server, "list-access-keys", "--user-name", "deployer")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]


def test_the_cli_pages_through_roles(server: LambkinServer) -> None:
    for index in range(5):
        cli(server, "create-role", "--role-name", f"paged-{index}", "--path", "/paged/",
            "--assume-role-policy-document", json.dumps(TRUST))  # fmt: skip
    page = cli(server, "list-roles", "--path-prefix", "/paged/", "--max-items", "2")
    assert [r["RoleName"] for r in page["Roles"]] == ["paged-0", "paged-1"]
    following = cli(server, "list-roles", "--path-prefix", "/paged/", "--starting-token", page["NextToken"])
    assert [r["RoleName"] for r in following["Roles"]] == ["paged-2", "paged-3", "paged-4"]


def test_boto3_pages_with_marker_and_is_truncated(iam: Any) -> None:
    for index in range(3):
        iam.create_user(UserName=f"pager-{index}", Path="/pager/")
    first = iam.list_users(PathPrefix="/pager/", MaxItems=2)
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in first["Users"]] == ["pager-0", "pager-1"]
    rest = iam.list_users(PathPrefix="/pager/", MaxItems=2, Marker=first["Marker"])
    assert rest["IsTruncated"] is False and "Marker" not in rest
    assert [u["UserName"] for u in rest["Users"]] == ["pager-2"]


def test_inline_role_policies_round_trip_and_block_deletion(iam: Any) -> None:
    iam.create_role(RoleName="worker", Path="/app/", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="worker", PolicyName="send", PolicyDocument=json.dumps(SEND))
    got = iam.get_role_policy(RoleName="worker", PolicyName="send")
    assert got["PolicyDocument"] == SEND and got["RoleName"] == "worker"
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["send"]
    with pytest.raises(ClientError) as refused:
        iam.delete_role(RoleName="worker")
    assert code(refused) == ("DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName="worker", PolicyName="send")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as missing:
        iam.get_role_policy(RoleName="worker", PolicyName="send")
    assert code(missing) == ("NoSuchEntity", 404, "The role policy with name send cannot be found.")
    iam.delete_role(RoleName="worker")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as gone:
        iam.get_role(RoleName="worker")
    assert code(gone) == ("NoSuchEntity", 404, "The role with name worker cannot be found.")


def test_a_second_role_of_the_same_name_is_refused(iam: Any) -> None:
    iam.create_role(RoleName="twice", AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as refused:
        iam.create_role(RoleName="TWICE", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert code(refused) == ("EntityAlreadyExists", 409, "Role with name TWICE already exists.")


def test_a_trust_policy_with_a_resource_is_malformed(iam: Any) -> None:
    wrong = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Resource": "*"}]}
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as refused:
        iam.create_role(RoleName="resourceful", AssumeRolePolicyDocument=json.dumps(wrong))
    assert code(refused)[:2] == ("MalformedPolicyDocument", 400)


def test_managed_policy_versions(iam: Any) -> None:
    policy = iam.create_policy(PolicyName="senders", Path="/team/", PolicyDocument=json.dumps(SEND))["Policy"]
    assert policy["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/team/senders"
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", policy["PolicyId"]) and policy["DefaultVersionId"] == "v1"
    for _ in range(4):
        iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(SEND))
    with pytest.raises(iam.exceptions.LimitExceededException) as limited:
        iam.create_policy_version(PolicyArn=policy["Arn"], PolicyDocument=json.dumps(SEND))
    assert code(limited)[:2] == ("LimitExceeded", 409)
    iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId="v2")
    iam.set_default_policy_version(PolicyArn=policy["Arn"], VersionId="v5")
    versions = iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [
        ("v5", True),
        ("v4", False),
        ("v3", False),
        ("v1", False),
    ]
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v5")["PolicyVersion"]
    assert version["Document"] == SEND
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=policy["Arn"])
    for old in ("v4", "v3", "v1"):
        iam.delete_policy_version(PolicyArn=policy["Arn"], VersionId=old)
    iam.delete_policy(PolicyArn=policy["Arn"])
    with pytest.raises(iam.exceptions.NoSuchEntityException) as gone:
        iam.get_policy(PolicyArn=policy["Arn"])
    assert code(gone) == ("NoSuchEntity", 404, f"Policy {policy['Arn']} was not found.")


def test_aws_managed_policies_are_listed_and_readable(iam: Any) -> None:
    listed = iam.list_policies(Scope="AWS")["Policies"]
    arns = {p["Arn"] for p in listed}
    assert BASIC in arns and "arn:aws:iam::aws:policy/AdministratorAccess" in arns
    basic = iam.get_policy(PolicyArn=BASIC)["Policy"]
    document = iam.get_policy_version(PolicyArn=BASIC, VersionId=basic["DefaultVersionId"])["PolicyVersion"]
    assert document["Document"]["Statement"][0]["Action"] == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    with pytest.raises(iam.exceptions.NoSuchEntityException) as wrong_path:
        iam.create_role(RoleName="pathless", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.attach_role_policy(
            RoleName="pathless", PolicyArn="arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole"
        )
    assert "does not exist or is not attachable." in code(wrong_path)[2]


def test_users_keys_and_their_limits(iam: Any) -> None:
    iam.create_user(UserName="ops")
    iam.attach_user_policy(UserName="ops", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.put_user_policy(UserName="ops", PolicyName="send", PolicyDocument=json.dumps(SEND))
    assert iam.get_user_policy(UserName="ops", PolicyName="send")["PolicyDocument"] == SEND
    assert iam.list_user_policies(UserName="ops")["PolicyNames"] == ["send"]
    attached = iam.list_attached_user_policies(UserName="ops")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["ReadOnlyAccess"]
    first = iam.create_access_key(UserName="ops")["AccessKey"]
    iam.create_access_key(UserName="ops")
    with pytest.raises(iam.exceptions.LimitExceededException) as limited:
        iam.create_access_key(UserName="ops")
    assert code(limited) == ("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    iam.update_access_key(UserName="ops", AccessKeyId=first["AccessKeyId"], Status="Inactive")
    statuses = {
        k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="ops")["AccessKeyMetadata"]
    }
    assert statuses[first["AccessKeyId"]] == "Inactive"
    with pytest.raises(iam.exceptions.DeleteConflictException) as refused:
        iam.delete_user(UserName="ops")
    assert code(refused)[2] == "Cannot delete entity, must delete access keys first."
    for key in statuses:
        iam.delete_access_key(UserName="ops", AccessKeyId=key)
    iam.detach_user_policy(UserName="ops", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.delete_user_policy(UserName="ops", PolicyName="send")
    iam.delete_user(UserName="ops")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="ops")


def test_role_tags(iam: Any) -> None:
    iam.create_role(
        RoleName="tagged", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "a", "Value": "1"}]
    )
    iam.tag_role(RoleName="tagged", Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "3"}])
    assert iam.list_role_tags(RoleName="tagged")["Tags"] == [
        {"Key": "A", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    iam.untag_role(RoleName="tagged", TagKeys=["b"])
    assert iam.get_role(RoleName="tagged")["Role"]["Tags"] == [{"Key": "A", "Value": "3"}]
    iam.update_assume_role_policy(RoleName="tagged", PolicyDocument=json.dumps(TRUST))


def test_iam_state_survives_a_restart(server: LambkinServer) -> None:
    before = server.client("iam")
    before.create_role(RoleName="durable", AssumeRolePolicyDocument=json.dumps(TRUST))
    before.attach_role_policy(RoleName="durable", PolicyArn=BASIC)
    server.restart()
    after = server.client("iam")
    assert after.get_role(RoleName="durable")["Role"]["AssumeRolePolicyDocument"] == TRUST
    attached = after.list_attached_role_policies(RoleName="durable")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [BASIC]


def test_a_function_needs_a_role_lambda_may_assume(server: LambkinServer, iam: Any) -> None:
    lam = server.client("lambda")
    ec2_trust = {
        **TRUST,
        "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}],
    }
    for_ec2 = iam.create_role(RoleName="for-ec2", AssumeRolePolicyDocument=json.dumps(ec2_trust))["Role"][
        "Arn"
    ]
    for_lambda = iam.create_role(RoleName="for-lambda", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    image = f"{server.registry}/never-pulled:v1"
    message = "The role defined for the function cannot be assumed by Lambda."
    for role in (for_ec2, f"arn:aws:iam::{ACCOUNT}:role/nobody"):
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
            lam.create_function(
                FunctionName="roled", Role=role, PackageType="Image", Code={"ImageUri": image}
            )
        assert code(refused) == ("InvalidParameterValueException", 400, message)
    created = lam.create_function(
        FunctionName="roled", Role=for_lambda, PackageType="Image", Code={"ImageUri": image}
    )
    assert created["Role"] == for_lambda
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.update_function_configuration(FunctionName="roled", Role=for_ec2)
    assert code(refused)[2] == message
    assert lam.get_function_configuration(FunctionName="roled")["Role"] == for_lambda


def test_the_root_key_is_the_account_root_to_iam(iam: Any) -> None:
    me = iam.get_user()["User"]
    assert (me["Arn"], me["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    assert iam.list_access_keys()["AccessKeyMetadata"] == []


def test_a_name_outside_iams_pattern_is_a_validation_error(iam: Any) -> None:
    with pytest.raises(ClientError) as refused:
        iam.create_role(RoleName="no spaces allowed", AssumeRolePolicyDocument=json.dumps(TRUST))
    got, status, message = code(refused)
    assert (got, status) == ("ValidationError", 400)
    assert "at 'roleName' failed to satisfy constraint" in message
