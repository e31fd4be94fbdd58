"""EventBridge Scheduler's action table: each operation's IAM action and resource, as AWS's Service
Authorization Reference gives them: a schedule's operations act on `schedule/GROUP/NAME`, a group's on
`schedule-group/NAME`, listings on "*"."""

from __future__ import annotations

from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed
from lambkin.events.schedules.scheduler import DEFAULT_GROUP
from lambkin.protocol.service import RequestContext


def scheduler_actions() -> ActionTable:
    """The rules of every Scheduler operation lambkin serves."""

    def on_schedule(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            group = arguments.get("GroupName") or DEFAULT_GROUP
            arn = f"arn:aws:scheduler:{context.region}:{context.account_id}:schedule/{group}/{arguments['Name']}"
            return Target(action, arn)

        return rule

    def on_group(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            arn = (
                f"arn:aws:scheduler:{context.region}:{context.account_id}:schedule-group/{arguments['Name']}"
            )
            return Target(action, arn)

        return rule

    def on_resource(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return Target(action, arguments["ResourceArn"])

        return rule

    return {
        "CreateSchedule": on_schedule("scheduler:CreateSchedule"),
        "UpdateSchedule": on_schedule("scheduler:UpdateSchedule"),
        "GetSchedule": on_schedule("scheduler:GetSchedule"),
        "DeleteSchedule": on_schedule("scheduler:DeleteSchedule"),
        "ListSchedules": fixed("scheduler:ListSchedules"),
        "CreateScheduleGroup": on_group("scheduler:CreateScheduleGroup"),
        "GetScheduleGroup": on_group("scheduler:GetScheduleGroup"),
        "DeleteScheduleGroup": on_group("scheduler:DeleteScheduleGroup"),
        "ListScheduleGroups": fixed("scheduler:ListScheduleGroups"),
        "ListTagsForResource": on_resource("scheduler:ListTagsForResource"),
        "TagResource": on_resource("scheduler:TagResource"),
        "UntagResource": on_resource("scheduler:UntagResource"),
    }
