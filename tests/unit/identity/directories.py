"""Roles, users and trust policies put into a FakeDirectory, for the STS, keyring and credentials tests."""

from __future__ import annotations

import json

from lambkin.identity.directory import Role, UserKey
from lambkin.identity.principals import Principal
from lambkin.testing.identity import FakeDirectory

ACCOUNT = "000000000000"


def add_role(
    directory: FakeDirectory, name: str, trust_policy: str = "{}", max_session_duration_s: int = 3600
) -> Role:
    role = Role(
        arn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
        name=name,
        role_id="AROA" + name.upper().replace("-", "").ljust(17, "X")[:17],
        trust_policy=trust_policy,
        max_session_duration_s=max_session_duration_s,
    )
    directory.put_role(role)
    return role


def add_user(
    directory: FakeDirectory, name: str, access_key_id: str, secret: str, active: bool = True
) -> Principal:
    user = Principal(
        kind="user",
        arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        account=ACCOUNT,
        user_id="AIDA" + name.upper().ljust(17, "X")[:17],
        name=name,
    )
    directory.keys[access_key_id] = UserKey(secret, user, active)
    directory.generation += 1
    return user


def trust_policy(*principals: str) -> str:
    """A trust policy that lets these principals sts:AssumeRole: ARNs, or service names ("….amazonaws.com")."""
    services = [p for p in principals if p.endswith(".amazonaws.com")]
    arns = [p for p in principals if p not in services]
    named: dict[str, list[str]] = {}
    if arns:
        named["AWS"] = arns
    if services:
        named["Service"] = services
    statement = {"Effect": "Allow", "Principal": named, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
