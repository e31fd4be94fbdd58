"""FakeDirectory, a Directory held in dicts: for unit tests of STS, the keyring and function credentials
without the IAM service and its database."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lambkin.identity.directory import Role, UserKey
from lambkin.identity.principals import Principal

ACCOUNT = "000000000000"


class FakeDirectory:
    """Roles, user keys and identity policies put in by the test; every change bumps `generation`."""

    def __init__(self, account: str = ACCOUNT) -> None:
        self.account = account
        self.roles: dict[str, Role] = {}
        self.keys: dict[str, UserKey] = {}
        self.policies: dict[str, list[str]] = {}
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def add_role(self, name: str, trust_policy: str = "{}", max_session_duration_s: int = 3600) -> Role:
        role = Role(
            arn=f"arn:aws:iam::{self.account}:role/{name}",
            name=name,
            role_id="AROA" + name.upper().ljust(17, "X")[:17],
            trust_policy=trust_policy,
            max_session_duration_s=max_session_duration_s,
        )
        self.roles[role.arn] = role
        self._generation += 1
        return role

    def remove_role(self, arn: str) -> None:
        del self.roles[arn]
        self._generation += 1

    def add_user(self, name: str, access_key_id: str, secret: str, active: bool = True) -> Principal:
        user = Principal(
            kind="user",
            arn=f"arn:aws:iam::{self.account}:user/{name}",
            account=self.account,
            user_id="AIDA" + name.upper().ljust(17, "X")[:17],
            name=name,
        )
        self.keys[access_key_id] = UserKey(secret, user, active)
        self._generation += 1
        return user

    def role(self, arn: str) -> Role | None:
        return self.roles.get(arn)

    def access_key(self, access_key_id: str) -> UserKey | None:
        return self.keys.get(access_key_id)

    def identity_policies(self, principal: Principal) -> Sequence[str]:
        return self.policies.get(principal.role_arn or principal.arn, [])


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
