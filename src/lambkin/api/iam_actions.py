"""IAM's and STS's action tables: each operation's IAM action and resource, as AWS's Service Authorization
Reference ("Actions, resources, and condition keys for AWS Identity and Access Management" and "... for
AWS Security Token Service") gives them.

Every IAM operation is the action of its own name (`iam:CreateRole`) on the entity its input names: a role,
user, group or instance profile by name (at the Path given, else at "/"), a managed policy by ARN; the
listings of roles and users act on `role/` and `user/`, what names nothing on "*". STS: AssumeRole acts on
the role, whose trust policy is the resource policy that decides beside the caller's; GetCallerIdentity
needs no permission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed, free
from lambkin.identity.directory import Directory
from lambkin.protocol.service import RequestContext

# Input member naming the entity → the entity's kind in its ARN.
_ENTITIES = (
    ("RoleName", "role"),
    ("UserName", "user"),
    ("GroupName", "group"),
    ("InstanceProfileName", "instance-profile"),
)
_LISTINGS = {"ListRoles": "role/", "ListUsers": "user/"}
_FREE_STS = ("GetCallerIdentity",)


def _path(arguments: dict[str, Any]) -> str:
    path = str(arguments.get("Path") or "/")
    return path.lstrip("/")


def iam_actions(account_id: str, operations: Iterable[str]) -> ActionTable:
    """The rules of the IAM operations lambkin serves (every one follows the same convention)."""
    base = f"arn:aws:iam::{account_id}:"

    def rule(action: str) -> Rule:
        def resolve(arguments: dict[str, Any], context: RequestContext) -> Target:
            for member, kind in _ENTITIES:
                if arguments.get(member):
                    return Target(action, f"{base}{kind}/{_path(arguments)}{arguments[member]}")
            if arguments.get("PolicyArn"):
                return Target(action, str(arguments["PolicyArn"]))
            if arguments.get("PolicyName") and action == "iam:CreatePolicy":
                return Target(action, f"{base}policy/{_path(arguments)}{arguments['PolicyName']}")
            if "AccessKeyId" in arguments or action in ("iam:CreateAccessKey", "iam:ListAccessKeys"):
                return Target(action, context.caller.arn)  # no UserName: the caller's own keys
            return Target(action, "*")

        return resolve

    table: dict[str, Rule] = {}
    for operation in operations:
        listing = _LISTINGS.get(operation)
        table[operation] = fixed(f"iam:{operation}", base + listing) if listing else rule(f"iam:{operation}")
    return table


def sts_actions(directory: Directory, operations: Iterable[str]) -> ActionTable:
    """The rules of the STS operations lambkin serves."""

    def assume_role(arguments: dict[str, Any], context: RequestContext) -> Target:
        arn = str(arguments["RoleArn"])
        role = directory.role(arn)
        return Target("sts:AssumeRole", arn, None if role is None else role.trust_policy, policy_kind="trust")

    table: dict[str, Rule] = {}
    for operation in operations:
        if operation in _FREE_STS:
            table[operation] = free
        elif operation == "AssumeRole":
            table[operation] = assume_role
        else:
            table[operation] = fixed(f"sts:{operation}")
    return table
