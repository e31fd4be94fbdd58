"""IAM's entities as frozen records (roles, users, access keys, managed policies and their versions), the
identifiers IAM makes for them, and the JSON they are stored as."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Tags = tuple[tuple[str, str], ...]
Kind = Literal["role", "user"]
AWS_ACCOUNT = "aws"  # the account of AWS-managed policies: arn:aws:iam::aws:policy/...

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # what IAM's unique IDs and key IDs are drawn from
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """A role with its inline policies (name → JSON document) and attached managed policy ARNs."""

    name: str
    path: str
    role_id: str  # AROA + 17
    arn: str
    trust_policy: str
    created: float
    description: str = ""
    max_session_duration: int = 3600
    tags: Tags = ()
    inline: Mapping[str, str] = field(default_factory=_empty)
    attached: tuple[str, ...] = ()
    boundary: str = ""  # the ARN of the managed policy set as its permissions boundary


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user with its inline policies and attached managed policy ARNs (its keys are AccessKeyRecords)."""

    name: str
    path: str
    user_id: str  # AIDA + 17
    arn: str
    created: float
    tags: Tags = ()
    inline: Mapping[str, str] = field(default_factory=_empty)
    attached: tuple[str, ...] = ()
    boundary: str = ""  # the ARN of the managed policy set as its permissions boundary


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    """A user's long-term key: AKIA + 16, a 40-character secret, Active or Inactive."""

    access_key_id: str
    user_name: str
    secret: str
    created: float
    active: bool = True


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version_id: str  # v1, v2, ... never reused
    document: str
    created: float


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """A managed policy: the account's own, or AWS's (account "aws", never changed)."""

    name: str
    path: str
    policy_id: str  # ANPA + 17
    arn: str
    created: float
    updated: float
    default_version: str
    versions: tuple[PolicyVersion, ...]
    next_version: int = 2
    description: str = ""
    tags: Tags = ()

    @property
    def aws_managed(self) -> bool:
        return self.arn.startswith(f"arn:aws:iam::{AWS_ACCOUNT}:")

    def version(self, version_id: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.version_id == version_id), None)

    @property
    def document(self) -> str:
        """The default version's document."""
        found = self.version(self.default_version)
        assert found is not None, "a managed policy always holds its default version"
        return found.document


def unique_id(prefix: str) -> str:
    """An IAM unique ID: AROA (role), AIDA (user), ANPA (policy), then 17 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def stable_id(prefix: str, seed: str) -> str:
    """A unique ID that is the same on every server (for AWS-managed policies)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + "".join(_ID_ALPHABET[b % 32] for b in digest[:17])


def access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def arn(account: str, kind: str, path: str, name: str) -> str:
    """arn:aws:iam::ACCOUNT:KIND/PATH/NAME (the path "/" adds nothing)."""
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


# Stored form: each record as JSON in one column of its table (identity/iam_store.py).


def encode(record: RoleRecord | UserRecord | AccessKeyRecord | ManagedPolicy) -> str:
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    if "inline" in data:
        data["inline"] = dict(data["inline"])
    if isinstance(record, ManagedPolicy):
        data["versions"] = [dataclasses.asdict(v) for v in record.versions]
    return json.dumps(data, separators=(",", ":"))


def _common(data: dict[str, Any]) -> dict[str, Any]:
    if "tags" in data:
        data["tags"] = tuple((k, v) for k, v in data["tags"])
    if "inline" in data:
        data["inline"] = MappingProxyType(data["inline"])
    if "attached" in data:
        data["attached"] = tuple(data["attached"])
    return data


def decode_role(text: str) -> RoleRecord:
    return RoleRecord(**_common(json.loads(text)))


def decode_user(text: str) -> UserRecord:
    return UserRecord(**_common(json.loads(text)))


def decode_key(text: str) -> AccessKeyRecord:
    return AccessKeyRecord(**json.loads(text))


def decode_policy(text: str) -> ManagedPolicy:
    data = _common(json.loads(text))
    data["versions"] = tuple(PolicyVersion(**v) for v in data["versions"])
    return ManagedPolicy(**data)
