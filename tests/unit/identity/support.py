"""Principals and documents the policy engine's tests share."""

from __future__ import annotations

import json

from lambkin.identity.policy.document import Kind, Policy, parse_policy
from lambkin.identity.principals import Principal

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service/app-role"
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders"


def user(name: str, account: str = ACCOUNT) -> Principal:
    return Principal("user", f"arn:aws:iam::{account}:user/{name}", account, f"AIDA{name.upper():0<17}", name)


def session(role_arn: str = ROLE_ARN, name: str = "s1") -> Principal:
    account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[1]
    return Principal(
        "assumed-role",
        f"arn:aws:sts::{account}:assumed-role/{role_name}/{name}",
        account,
        f"AROAEXAMPLEROLEID0001:{name}",
        name,
        role_arn,
    )


def policy(*statements: dict[str, object], kind: Kind = "identity") -> Policy:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind)


def allow(action: object, resource: object = "*", **more: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action: object, resource: object = "*", **more: object) -> dict[str, object]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}
