"""IAM's and STS's action tables: each operation's IAM action and resource, as AWS's Service Authorization
Reference ("Actions, resources, and condition keys for AWS Identity and Access Management" and "... for
AWS Security Token Service") gives them.

Every IAM operation is the action of its own name (`iam:CreateRole`) on the entity its input names: a role,
user, group or instance profile by name (at the Path given, else at "/"), a managed policy by ARN; the
listings of roles and users act on `role/` and `user/`, what names nothing on "*". STS: GetCallerIdentity
needs no permission, and AssumeRole is decided by STS itself (the role's trust policy must allow, and the
caller's own policies, with STS's own wording: identity/sts.py); the rest act on "*".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed, free
from lambkin.protocol.service import RequestContext

# Input member naming the entity → the entity's kind in its ARN.
_ENTITIES = (
    ("RoleName", "role"),
    ("UserName", "user"),
    ("GroupName", "group"),
    ("InstanceProfileName", "instance-profile"),
)
_LISTINGS = {"ListRoles": "role/", "ListUsers": "user/"}
_OWN = ("iam:CreateAccessKey", "iam:ListAccessKeys", "iam:GetUser")  # without UserName: the caller's own
_DECIDED_BY_STS = ("GetCallerIdentity", "AssumeRole")  # free, or decided by STS itself


def _path(arguments: dict[str, Any]) -> str:
    path = str(arguments.get("Path") or "/")
    return path.lstrip("/")


def _boundary_key(arguments: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """iam:PermissionsBoundary, the boundary a request sets: what lets an administrator delegate creating
    users and roles only with a given boundary."""
    return (("iam:PermissionsBoundary", str(arguments["PermissionsBoundary"])),)


def iam_actions(account_id: str, operations: Iterable[str]) -> ActionTable:
    """The rules of the IAM operations lambkin serves (every one follows the same convention)."""
    base = f"arn:aws:iam::{account_id}:"

    def rule(action: str) -> Rule:
        def resolve(arguments: dict[str, Any], context: RequestContext) -> Target:
            for member, kind in _ENTITIES:
                if arguments.get(member):
                    resource = f"{base}{kind}/{_path(arguments)}{arguments[member]}"
                    if arguments.get("PermissionsBoundary"):
                        return Target(action, resource, None, _boundary_key(arguments))
                    return Target(action, resource)
            if arguments.get("PolicyArn"):
                return Target(action, str(arguments["PolicyArn"]))
            if arguments.get("PolicyName") and action == "iam:CreatePolicy":
                return Target(action, f"{base}policy/{_path(arguments)}{arguments['PolicyName']}")
            if "AccessKeyId" in arguments or action in _OWN:
                return Target(action, context.caller.arn)  # no UserName: the caller's own keys
            return Target(action, "*")

        return resolve

    table: dict[str, Rule] = {}
    for operation in operations:
        listing = _LISTINGS.get(operation)
        table[operation] = fixed(f"iam:{operation}", base + listing) if listing else rule(f"iam:{operation}")
    return table


def sts_actions(operations: Iterable[str]) -> ActionTable:
    """The rules of the STS operations lambkin serves."""
    return {op: free if op in _DECIDED_BY_STS else fixed(f"sts:{op}") for op in operations}
