"""The IAM API's output shapes: roles, users, keys, policies and versions as the model names them, dates as
datetimes, policy documents URL-encoded as IAM sends them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from lambkin.identity.iam import timestamp
from lambkin.identity.iam_model import AccessKeyRecord, ManagedPolicy, PolicyVersion, RoleRecord, UserRecord

Output = dict[str, Any]


def encoded(document: str) -> str:
    return quote(document, safe="")


def tag_list(pairs: Sequence[tuple[str, str]]) -> list[Output]:
    return [{"Key": k, "Value": v} for k, v in pairs]


def listing(member: str, items: list[Any], marker: str | None) -> Output:
    out: Output = {member: items, "IsTruncated": marker is not None}
    if marker is not None:
        out["Marker"] = marker
    return out


def role(role: RoleRecord, *, tags: bool) -> Output:
    out: Output = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": timestamp(role.created),
        "AssumeRolePolicyDocument": encoded(role.trust_policy),
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.description:
        out["Description"] = role.description
    if role.boundary:
        out["PermissionsBoundary"] = boundary(role.boundary)
    if tags and role.tags:
        out["Tags"] = tag_list(role.tags)
    return out


def user(user: UserRecord, *, tags: bool = True) -> Output:
    out: Output = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": timestamp(user.created),
    }
    if user.boundary:
        out["PermissionsBoundary"] = boundary(user.boundary)
    if tags and user.tags:
        out["Tags"] = tag_list(user.tags)
    return out


def boundary(policy_arn: str) -> Output:
    return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": policy_arn}


def key(key: AccessKeyRecord) -> Output:
    return {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": "Active" if key.active else "Inactive",
        "CreateDate": timestamp(key.created),
    }


def policy(policy: ManagedPolicy, attachments: int, boundaries: int) -> Output:
    out: Output = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": timestamp(policy.created),
        "UpdateDate": timestamp(policy.updated),
    }
    if policy.description:
        out["Description"] = policy.description
    if policy.tags:
        out["Tags"] = tag_list(policy.tags)
    return out


def version(version: PolicyVersion, policy: ManagedPolicy, *, document: bool) -> Output:
    out: Output = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == policy.default_version,
        "CreateDate": timestamp(version.created),
    }
    if document:
        out["Document"] = encoded(version.document)
    return out
