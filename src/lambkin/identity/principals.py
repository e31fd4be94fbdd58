"""Principals: who signed a request, as IAM names them (the account root, a user, an assumed role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["root", "user", "assumed-role", "service", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed a request (or, kind "service", the AWS service acting: `arn` is its principal name,
    "events.amazonaws.com"). `arn` is what AWS shows (GetCallerIdentity's Arn, AccessDenied messages);
    `user_id` GetCallerIdentity's UserId (the account ID for root, AIDA... for a user, AROA...:session for an
    assumed role); `role_arn` the role an assumed-role session acts for (its policies decide);
    `session_policy` and `session_policy_arns` the session policies AssumeRole was given (they cap it)."""

    kind: Kind
    arn: str
    account: str
    user_id: str
    name: str = ""  # the user's name, or the assumed role's session name
    role_arn: str = ""  # for an assumed role: arn:aws:iam::ACCOUNT:role/PATH/NAME
    session_policy: str = ""  # an inline session policy (JSON), if one was passed
    session_policy_arns: tuple[str, ...] = ()  # managed session policies

    @property
    def has_session_policies(self) -> bool:
        return bool(self.session_policy or self.session_policy_arns)

    @property
    def is_root(self) -> bool:
        return self.kind == "root"

    @property
    def has_identity(self) -> bool:
        """Whether identity-based policies can apply (not to a service, nor to an unsigned caller)."""
        return self.kind not in ("service", "anonymous")


def root(account: str) -> Principal:
    """The account root: the server's own key pair signs as this, and may do everything."""
    return Principal(kind="root", arn=f"arn:aws:iam::{account}:root", account=account, user_id=account)


def service(name: str) -> Principal:
    """An AWS service acting on its own behalf (resource policies name it: {"Service": name})."""
    return Principal(kind="service", arn=name, account="", user_id=name)


def anonymous() -> Principal:
    """An unsigned caller (a function URL with AuthType NONE): only a resource-based policy granting
    everyone ("*") allows it anything."""
    return Principal(kind="anonymous", arn="anonymous", account="", user_id="anonymous")
