"""The EventBridge Scheduler API (`scheduler`): one handler per operation over the schedules and groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lambkin.events.bridge.errors import Invalid
from lambkin.events.schedules.firings import FiringStore
from lambkin.events.schedules.scheduler import Schedules
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]
_SCHEDULE = (
    "Arn",
    "GroupName",
    "Name",
    "ScheduleExpression",
    "StartDate",
    "EndDate",
    "Description",
    "ScheduleExpressionTimezone",
    "State",
    "CreationDate",
    "LastModificationDate",
    "Target",
    "FlexibleTimeWindow",
    "ActionAfterCompletion",
)
_GROUP = ("Arn", "Name", "State", "CreationDate", "LastModificationDate")


def _page(items: Sequence[Any], token: str | None, limit: int | None) -> tuple[Sequence[Any], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise Invalid("The NextToken is not valid.") from None
    end = start + (limit or 100)
    return items[start:end], (str(end) if end < len(items) else None)


def _pick(document: dict[str, Any], keys: Sequence[str]) -> Output:
    return {key: document[key] for key in keys if key in document}


def handlers(schedules: Schedules, firings: FiringStore) -> dict[str, Handler]:
    """The handler map for the gateway's "scheduler" entry."""

    async def create_schedule(a: Input, c: RequestContext) -> Output:
        return {"ScheduleArn": (await schedules.put(a, update=False))["Arn"]}

    async def update_schedule(a: Input, c: RequestContext) -> Output:
        return {"ScheduleArn": (await schedules.put(a, update=True))["Arn"]}

    async def get_schedule(a: Input, c: RequestContext) -> Output:
        return _pick(schedules.get(a.get("GroupName"), a["Name"]), _SCHEDULE)

    async def delete_schedule(a: Input, c: RequestContext) -> Output:
        arn = schedules.get(a.get("GroupName"), a["Name"])["Arn"]
        await schedules.delete(a.get("GroupName"), a["Name"])
        await firings.forget(arn)
        return {}

    async def list_schedules(a: Input, c: RequestContext) -> Output:
        group, prefix, state = a.get("GroupName"), a.get("NamePrefix") or "", a.get("State")
        if group:
            schedules.group(group)
        found = sorted(
            (
                s
                for s in schedules.schedules.values()
                if (not group or s["GroupName"] == group)
                and s["Name"].startswith(prefix)
                and (not state or s["State"] == state)
            ),
            key=lambda s: (s["GroupName"], s["Name"]),
        )
        page, token = _page(found, a.get("NextToken"), a.get("MaxResults"))
        summaries = [
            {
                **_pick(s, ("Arn", "Name", "GroupName", "State", "CreationDate", "LastModificationDate")),
                "Target": {"Arn": s["Target"]["Arn"]},
            }
            for s in page
        ]
        out: Output = {"Schedules": summaries}
        if token:
            out["NextToken"] = token
        return out

    async def create_group(a: Input, c: RequestContext) -> Output:
        return {"ScheduleGroupArn": (await schedules.create_group(a["Name"], a.get("Tags") or []))["Arn"]}

    async def get_group(a: Input, c: RequestContext) -> Output:
        return _pick(schedules.group(a["Name"]), _GROUP)

    async def delete_group(a: Input, c: RequestContext) -> Output:
        await schedules.delete_group(a["Name"])
        return {}

    async def list_groups(a: Input, c: RequestContext) -> Output:
        prefix = a.get("NamePrefix") or ""
        found = [g for name, g in sorted(schedules.groups.items()) if name.startswith(prefix)]
        page, token = _page(found, a.get("NextToken"), a.get("MaxResults"))
        out: Output = {"ScheduleGroups": [_pick(g, _GROUP) for g in page]}
        if token:
            out["NextToken"] = token
        return out

    async def list_tags(a: Input, c: RequestContext) -> Output:
        return {"Tags": list(schedules.group_of_arn(a["ResourceArn"]).get("Tags", []))}

    async def tag(a: Input, c: RequestContext) -> Output:
        await schedules.tag_group(a["ResourceArn"], a["Tags"])
        return {}

    async def untag(a: Input, c: RequestContext) -> Output:
        await schedules.untag_group(a["ResourceArn"], a["TagKeys"])
        return {}

    return {
        "CreateSchedule": create_schedule,
        "UpdateSchedule": update_schedule,
        "GetSchedule": get_schedule,
        "DeleteSchedule": delete_schedule,
        "ListSchedules": list_schedules,
        "CreateScheduleGroup": create_group,
        "GetScheduleGroup": get_group,
        "DeleteScheduleGroup": delete_group,
        "ListScheduleGroups": list_groups,
        "ListTagsForResource": list_tags,
        "TagResource": tag,
        "UntagResource": untag,
    }
