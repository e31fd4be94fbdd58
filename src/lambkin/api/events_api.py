"""The EventBridge API (`events`): one handler per operation over the bridge's buses, rules and targets,
PutEvents and TestEventPattern. The bridge's errors rise to the gateway, which renders them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lambkin.events.bridge.errors import Invalid
from lambkin.events.bridge.patterns import compile_pattern
from lambkin.events.bridge.publish import Publisher
from lambkin.events.bridge.service import Bridge, Rule
from lambkin.events.bridge.values import loads
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]
DEFAULT_LIMIT = 100
_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def _page(items: Sequence[Any], token: str | None, limit: int | None) -> tuple[Sequence[Any], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise Invalid("The NextToken provided is not valid.") from None
    end = start + (limit or DEFAULT_LIMIT)
    return items[start:end], (str(end) if end < len(items) else None)


def _rule(rule: Rule) -> Output:
    keys = ("Name", "Arn", "EventPattern", "ScheduleExpression", "State", "Description", "RoleArn")
    out = {key: rule.document[key] for key in keys if key in rule.document}
    out["EventBusName"] = rule.document["EventBusName"]
    return out


def _bus(bus: dict[str, Any]) -> Output:
    keys = ("Name", "Arn", "Description", "CreationTime", "LastModifiedTime")
    return {key: bus[key] for key in keys if key in bus}


def test_event_pattern(a: Input) -> Output:
    pattern = compile_pattern(a["EventPattern"])
    try:
        event = loads(a["Event"])
    except ValueError:
        raise Invalid("Parameter Event is not valid.") from None
    if not isinstance(event, dict) or any(field not in event for field in _EVENT_FIELDS):
        raise Invalid("Parameter Event is not valid.")
    return {"Result": pattern.matches(event)}


# Whether the caller may events:PutEvents on a bus (by ARN): None, or AWS's AccessDenied message.
MayPut = Callable[[RequestContext, str], str | None]


def handlers(bridge: Bridge, publisher: Publisher, may_put: MayPut | None = None) -> dict[str, Handler]:
    """The handler map for the gateway's "events" entry. The gateway authorizes PutEvents on its entries'
    first bus; with `may_put`, each entry's own bus is asked too (an entry for a bus the caller may not use
    fails alone, with AccessDeniedException, as AWS answers)."""

    async def create_event_bus(a: Input, c: RequestContext) -> Output:
        bus = await bridge.create_bus(a["Name"], a.get("Description"), a.get("Tags") or [])
        out = {"EventBusArn": bus["Arn"]}
        if "Description" in bus:
            out["Description"] = bus["Description"]
        return out

    async def delete_event_bus(a: Input, c: RequestContext) -> Output:
        await bridge.delete_bus(a["Name"])
        return {}

    async def describe_event_bus(a: Input, c: RequestContext) -> Output:
        return _bus(bridge.bus(a.get("Name")))

    async def list_event_buses(a: Input, c: RequestContext) -> Output:
        prefix = a.get("NamePrefix") or ""
        buses = [bus for name, bus in sorted(bridge.buses.items()) if name.startswith(prefix)]
        page, token = _page(buses, a.get("NextToken"), a.get("Limit"))
        out: Output = {"EventBuses": [_bus(bus) for bus in page]}
        if token:
            out["NextToken"] = token
        return out

    async def put_rule(a: Input, c: RequestContext) -> Output:
        rule = await bridge.put_rule(a)
        return {"RuleArn": rule.arn}

    async def describe_rule(a: Input, c: RequestContext) -> Output:
        rule = bridge.rule(a.get("EventBusName"), a["Name"])
        return {**_rule(rule), "CreatedBy": rule.document["CreatedBy"]}

    async def list_rules(a: Input, c: RequestContext) -> Output:
        bus = bridge.bus(a.get("EventBusName"))["Name"]
        prefix = a.get("NamePrefix") or ""
        rules = sorted((r for r in bridge.rules_of(bus) if r.name.startswith(prefix)), key=lambda r: r.name)
        page, token = _page(rules, a.get("NextToken"), a.get("Limit"))
        out: Output = {"Rules": [_rule(rule) for rule in page]}
        if token:
            out["NextToken"] = token
        return out

    async def delete_rule(a: Input, c: RequestContext) -> Output:
        await bridge.delete_rule(a.get("EventBusName"), a["Name"])
        return {}

    async def enable_rule(a: Input, c: RequestContext) -> Output:
        await bridge.set_state(a.get("EventBusName"), a["Name"], "ENABLED")
        return {}

    async def disable_rule(a: Input, c: RequestContext) -> Output:
        await bridge.set_state(a.get("EventBusName"), a["Name"], "DISABLED")
        return {}

    async def put_targets(a: Input, c: RequestContext) -> Output:
        await bridge.put_targets(a.get("EventBusName"), a["Rule"], a["Targets"])
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def remove_targets(a: Input, c: RequestContext) -> Output:
        unknown = await bridge.remove_targets(a.get("EventBusName"), a["Rule"], a["Ids"])
        failed = [
            {
                "TargetId": target_id,
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": "Target does not exist.",
            }
            for target_id in unknown
        ]
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    async def list_targets_by_rule(a: Input, c: RequestContext) -> Output:
        rule = bridge.rule(a.get("EventBusName"), a["Rule"])
        page, token = _page(rule.targets, a.get("NextToken"), a.get("Limit"))
        out: Output = {"Targets": list(page)}
        if token:
            out["NextToken"] = token
        return out

    async def list_rule_names_by_target(a: Input, c: RequestContext) -> Output:
        bus = bridge.bus(a.get("EventBusName"))["Name"]
        names = sorted(
            r.name for r in bridge.rules_of(bus) if any(t["Arn"] == a["TargetArn"] for t in r.targets)
        )
        page, token = _page(names, a.get("NextToken"), a.get("Limit"))
        out: Output = {"RuleNames": list(page)}
        if token:
            out["NextToken"] = token
        return out

    async def put_events(a: Input, c: RequestContext) -> Output:
        if may_put is None:
            results = await publisher.put_events(a["Entries"])
        else:
            results = await publisher.put_events(a["Entries"], lambda bus_arn: may_put(c, bus_arn))
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    async def test_pattern(a: Input, c: RequestContext) -> Output:
        return test_event_pattern(a)

    async def tag_resource(a: Input, c: RequestContext) -> Output:
        await bridge.tag(a["ResourceARN"], a["Tags"])
        return {}

    async def untag_resource(a: Input, c: RequestContext) -> Output:
        await bridge.tag(a["ResourceARN"], [], a["TagKeys"])
        return {}

    async def list_tags_for_resource(a: Input, c: RequestContext) -> Output:
        return {"Tags": bridge.tags(a["ResourceARN"])}

    return {
        "CreateEventBus": create_event_bus,
        "DeleteEventBus": delete_event_bus,
        "DescribeEventBus": describe_event_bus,
        "ListEventBuses": list_event_buses,
        "PutRule": put_rule,
        "DescribeRule": describe_rule,
        "ListRules": list_rules,
        "DeleteRule": delete_rule,
        "EnableRule": enable_rule,
        "DisableRule": disable_rule,
        "PutTargets": put_targets,
        "RemoveTargets": remove_targets,
        "ListTargetsByRule": list_targets_by_rule,
        "ListRuleNamesByTarget": list_rule_names_by_target,
        "PutEvents": put_events,
        "TestEventPattern": test_pattern,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    }
