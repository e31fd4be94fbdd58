"""FakeDirectory, the fake IAM Directory: roles, user keys and identity policies a test puts in it."""

from __future__ import annotations

from collections.abc import Sequence

from lambkin.identity.directory import Role, UserKey
from lambkin.identity.principals import Principal


class FakeDirectory:
    """A Directory held in dicts. Every change bumps `generation`, as an IAM write does; `reads` counts
    the identity-policy reads, so a test can see what the authorizer's caches spare."""

    def __init__(self) -> None:
        self.generation = 0
        self.roles: dict[str, Role] = {}
        self.keys: dict[str, UserKey] = {}
        self.policies: dict[str, list[str]] = {}  # by user ARN, or by role ARN for its sessions
        self.boundaries: dict[str, str] = {}  # likewise
        self.managed: dict[str, str] = {}  # managed policy documents by ARN
        self.reads = 0

    def role(self, arn: str) -> Role | None:
        return self.roles.get(arn)

    def access_key(self, access_key_id: str) -> UserKey | None:
        return self.keys.get(access_key_id)

    def identity_policies(self, principal: Principal) -> Sequence[str]:
        self.reads += 1
        return tuple(self.policies.get(principal.role_arn or principal.arn, ()))

    def permissions_boundary(self, principal: Principal) -> str | None:
        return self.boundaries.get(principal.role_arn or principal.arn)

    def managed_policy(self, arn: str) -> str | None:
        return self.managed.get(arn)

    def put_role(self, role: Role) -> None:
        self.roles[role.arn] = role
        self.generation += 1

    def attach(self, arn: str, document: str) -> None:
        """Adds an identity policy to the user or role `arn`."""
        self.policies.setdefault(arn, []).append(document)
        self.generation += 1
