"""FakeDirectory, a Directory held in dicts, and `trusting`, a trust check that names who may assume roles:
for unit tests of STS, the keyring and function credentials without IAM or the policy engine."""

from __future__ import annotations

from collections.abc import Sequence

from lambkin.identity.directory import Role, UserKey
from lambkin.identity.principals import Principal
from lambkin.identity.sts import TrustCheck

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


def trusting(*caller_arns: str) -> TrustCheck:
    """A trust check that lets exactly these callers (by ARN) assume any role."""

    def trusts(caller: Principal, role: Role) -> bool:
        return caller.arn in caller_arns

    return trusts
