"""What the rest of identity reads from IAM: roles, users' access keys and the policies that apply to a
principal. The IAM service (identity/iam.py) implements it over the store; tests use a small fake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lambkin.identity.principals import Principal


@dataclass(frozen=True, slots=True)
class Role:
    """An IAM role, as STS and Lambda need it."""

    arn: str  # arn:aws:iam::ACCOUNT:role/PATH/NAME
    name: str
    role_id: str  # AROA...
    trust_policy: str  # the AssumeRolePolicyDocument, JSON text
    max_session_duration_s: int = 3600
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserKey:
    """An IAM user's access key: its secret, who signs with it, and whether it is Active."""

    secret: str
    user: Principal
    active: bool = True


class Directory(Protocol):
    """IAM's state as identity reads it. `generation` changes on every IAM write: caches key on it."""

    @property
    def generation(self) -> int: ...

    def role(self, arn: str) -> Role | None:
        """The role with this ARN (or None); a role's name alone is not accepted."""
        ...

    def access_key(self, access_key_id: str) -> UserKey | None:
        """The user key with this ID (AKIA...), or None."""
        ...

    def identity_policies(self, principal: Principal) -> Sequence[str]:
        """The JSON documents of every identity-based policy that applies to the principal: a user's inline
        and attached policies, an assumed role's role's inline and attached policies (default versions)."""
        ...

    def permissions_boundary(self, principal: Principal) -> str | None:
        """The JSON document of the permissions boundary set on the user or the session's role, if any."""
        ...

    def managed_policy(self, arn: str) -> str | None:
        """The default version's JSON document of a managed policy (the account's or AWS's), or None."""
        ...
