"""Permissions boundaries and session policies with boto3 against a running server: they cap what identity
policies grant, delegated administrators may be held to a boundary, and IAM shows and guards them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import LambkinServer

ACCOUNT = "000000000000"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **more}


def user_with(server: LambkinServer, name: str, policy: str, **create: Any) -> tuple[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName=name, **create)
    iam.put_user_policy(UserName=name, PolicyName="grant", PolicyDocument=policy)
    created = iam.create_access_key(UserName=name)["AccessKey"]
    return created["AccessKeyId"], created["SecretAccessKey"]


def refusal(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_boundary_caps_a_user_and_iam_shows_and_guards_it(server: LambkinServer) -> None:
    iam = server.client("iam")
    queues_only = iam.create_policy(PolicyName="queues-only", PolicyDocument=document(allow("sqs:*")))[
        "Policy"
    ]
    key = user_with(
        server, "capped", document(allow(["lambda:*", "sqs:*"])), PermissionsBoundary=queues_only["Arn"]
    )
    lam, sqs = server.client("lambda", key), server.client("sqs", key)

    sqs.list_queues()
    code, message = refusal(lam.list_functions)
    assert code == "AccessDeniedException"
    assert message.endswith("because no permissions boundary allows the lambda:ListFunctions action")
    assert iam.get_user(UserName="capped")["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": queues_only["Arn"],
    }
    assert iam.get_policy(PolicyArn=queues_only["Arn"])["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert refusal(iam.delete_policy, PolicyArn=queues_only["Arn"])[0] == "DeleteConflict"

    iam.delete_user_permissions_boundary(UserName="capped")
    lam.list_functions()
    assert "PermissionsBoundary" not in iam.get_user(UserName="capped")["User"]
    iam.put_user_permissions_boundary(UserName="capped", PermissionsBoundary=queues_only["Arn"])
    assert refusal(lam.list_functions)[0] == "AccessDeniedException"


def test_a_role_boundary_caps_its_sessions_and_must_name_a_managed_policy(server: LambkinServer) -> None:
    iam = server.client("iam")
    key = user_with(server, "assumer", document(allow("sts:AssumeRole")))
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/assumer"
    trust = document({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(
        RoleName="bounded", PolicyName="all", PolicyDocument=document(allow(["lambda:*", "sqs:*"]))
    )
    missing = f"arn:aws:iam::{ACCOUNT}:policy/not-there"
    code, message = refusal(
        iam.put_role_permissions_boundary, RoleName="bounded", PermissionsBoundary=missing
    )
    assert (code, message) == ("NoSuchEntity", f"Policy {missing} does not exist or is not attachable.")
    sqs_full = "arn:aws:iam::aws:policy/AmazonSQSFullAccess"
    iam.put_role_permissions_boundary(RoleName="bounded", PermissionsBoundary=sqs_full)
    role = iam.get_role(RoleName="bounded")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == sqs_full
    credentials = server.client("sts", key).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/bounded", RoleSessionName="s1"
    )["Credentials"]
    session = (credentials["AccessKeyId"], credentials["SecretAccessKey"])
    server.client("sqs", session, credentials["SessionToken"]).list_queues()
    code, _ = refusal(server.client("lambda", session, credentials["SessionToken"]).list_functions)
    assert code == "AccessDeniedException"


def test_a_delegated_administrator_creates_roles_only_with_the_boundary(server: LambkinServer) -> None:
    iam = server.client("iam")
    boundary = iam.create_policy(PolicyName="team-boundary", PolicyDocument=document(allow("logs:*")))
    boundary_arn = boundary["Policy"]["Arn"]
    held = allow(
        ["iam:CreateRole", "iam:CreateUser"],
        Condition={"StringEquals": {"iam:PermissionsBoundary": boundary_arn}},
    )
    admin = server.client("iam", user_with(server, "team-admin", document(held)))
    trust = document(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )

    code, message = refusal(admin.create_role, RoleName="free", AssumeRolePolicyDocument=trust)
    assert code == "AccessDenied" and "iam:CreateRole" in message
    made = admin.create_role(
        RoleName="held", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary_arn
    )
    assert made["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary_arn
    assert admin.create_user(UserName="held-user", PermissionsBoundary=boundary_arn)["User"]["UserName"]


def test_session_policies_cap_an_assumed_roles_session(server: LambkinServer) -> None:
    iam = server.client("iam")
    key = user_with(server, "narrower", document(allow("sts:AssumeRole")))
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/narrower"},
            "Action": "sts:AssumeRole",
        }
    )
    role_arn = iam.create_role(RoleName="broad", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="broad", PolicyName="all", PolicyDocument=document(allow(["lambda:*", "sqs:*"]))
    )
    sts = server.client("sts", key)

    answer = sts.assume_role(
        RoleArn=role_arn, RoleSessionName="narrow", Policy=document(allow("sqs:ListQueues"))
    )
    credentials = answer["Credentials"]
    session = (credentials["AccessKeyId"], credentials["SecretAccessKey"])
    server.client("sqs", session, credentials["SessionToken"]).list_queues()
    code, message = refusal(server.client("lambda", session, credentials["SessionToken"]).list_functions)
    assert code == "AccessDeniedException"
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/broad/narrow is not authorized to perform: "
        f"lambda:ListFunctions on resource: * "
        "because no session policy allows the lambda:ListFunctions action"
    )
    assert 0 < answer["PackedPolicySize"] <= 100

    managed = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName="managed",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AmazonSQSFullAccess"}],
    )["Credentials"]
    by_managed = (managed["AccessKeyId"], managed["SecretAccessKey"])
    server.client("sqs", by_managed, managed["SessionToken"]).list_queues()
    denied = refusal(server.client("lambda", by_managed, managed["SessionToken"]).list_functions)
    assert denied[0] == "AccessDeniedException"
    plain = sts.assume_role(RoleArn=role_arn, RoleSessionName="plain")
    assert "PackedPolicySize" not in plain


def test_bad_session_policies_are_refused_as_sts_refuses_them(server: LambkinServer) -> None:
    key = user_with(server, "sloppy", document(allow("sts:AssumeRole")))
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/sloppy"},
            "Action": "sts:AssumeRole",
        }
    )
    role_arn = server.client("iam").create_role(RoleName="sloppy-role", AssumeRolePolicyDocument=trust)[
        "Role"
    ]["Arn"]
    sts = server.client("sts", key)

    assert refusal(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", Policy="{not json")[0] == (
        "MalformedPolicyDocument"
    )
    long_arns = [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/{'p' * 200}{n}"} for n in range(10)]
    code, message = refusal(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", PolicyArns=long_arns)
    assert code == "PackedPolicyTooLarge"
    assert message.startswith("Packed policy consumes ") and message.endswith(
        "% of allotted space, please use smaller policy."
    )
