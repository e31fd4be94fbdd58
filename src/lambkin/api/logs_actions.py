"""CloudWatch Logs' action table: each operation's IAM action and resource, as AWS's Service Authorization
Reference ("Actions, resources, and condition keys for Amazon CloudWatch Logs") and its AccessDenied
messages give them: a log group's operations act on `...:log-group:NAME:log-stream:` (GetLogEvents on the
stream's own ARN), DescribeLogGroups on the account's `...:log-group::log-stream:`.
"""

from __future__ import annotations

from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target
from lambkin.protocol.service import RequestContext


def _group(arguments: dict[str, Any]) -> str:
    """The log group named by logGroupName, or logGroupIdentifier (a name or the group's ARN)."""
    name = arguments.get("logGroupName")
    if name:
        return str(name)
    identifier = str(arguments.get("logGroupIdentifier") or "")
    if identifier.startswith("arn:") and ":log-group:" in identifier:
        return identifier.split(":log-group:", 1)[1].removesuffix(":*")
    return identifier


def _prefix(context: RequestContext) -> str:
    return f"arn:aws:logs:{context.region}:{context.account_id}:log-group:"


def logs_actions() -> ActionTable:
    """The rules of every CloudWatch Logs operation lambkin serves."""

    def in_group(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return Target(action, f"{_prefix(context)}{_group(arguments)}:log-stream:")

        return rule

    def get_log_events(arguments: dict[str, Any], context: RequestContext) -> Target:
        stream = arguments.get("logStreamName", "")
        return Target("logs:GetLogEvents", f"{_prefix(context)}{_group(arguments)}:log-stream:{stream}")

    def describe_log_groups(arguments: dict[str, Any], context: RequestContext) -> Target:
        return Target("logs:DescribeLogGroups", f"{_prefix(context)}:log-stream:")

    return {
        "DescribeLogGroups": describe_log_groups,
        "DescribeLogStreams": in_group("logs:DescribeLogStreams"),
        "GetLogEvents": get_log_events,
        "FilterLogEvents": in_group("logs:FilterLogEvents"),
    }
