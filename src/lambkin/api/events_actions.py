"""EventBridge's action table: each operation's IAM action and resource, as AWS's Service Authorization
Reference ("Actions, resources, and condition keys for Amazon EventBridge") gives them: a rule's operations
act on the rule's ARN (`rule/NAME` on the default bus, `rule/BUS/NAME` on another), a bus's and PutEvents'
on the bus's ARN (for a PutEvents naming several buses, the first in name order here; the handler asks of
every entry's own bus, and an entry refused fails alone), listings and TestEventPattern on "*".
"""

from __future__ import annotations

from typing import Any

from lambkin.api.authorize import ActionTable, Rule, Target, fixed
from lambkin.events.bridge.service import DEFAULT_BUS, bus_name
from lambkin.protocol.service import RequestContext


def _base(context: RequestContext) -> str:
    return f"arn:aws:events:{context.region}:{context.account_id}"


def events_actions() -> ActionTable:
    """The rules of every EventBridge operation lambkin serves."""

    def on_rule(action: str, key: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            bus = bus_name(arguments.get("EventBusName"))
            name = arguments[key] if bus == DEFAULT_BUS else f"{bus}/{arguments[key]}"
            return Target(action, f"{_base(context)}:rule/{name}")

        return rule

    def on_bus(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return Target(action, f"{_base(context)}:event-bus/{bus_name(arguments.get('Name'))}")

        return rule

    def on_resource(action: str) -> Rule:
        def rule(arguments: dict[str, Any], context: RequestContext) -> Target:
            return Target(action, arguments["ResourceARN"])

        return rule

    def put_events(arguments: dict[str, Any], context: RequestContext) -> Target:
        buses = sorted({bus_name(entry.get("EventBusName")) for entry in arguments.get("Entries") or []})
        return Target("events:PutEvents", f"{_base(context)}:event-bus/{buses[0] if buses else DEFAULT_BUS}")

    return {
        "CreateEventBus": on_bus("events:CreateEventBus"),
        "DeleteEventBus": on_bus("events:DeleteEventBus"),
        "DescribeEventBus": on_bus("events:DescribeEventBus"),
        "ListEventBuses": fixed("events:ListEventBuses"),
        "PutRule": on_rule("events:PutRule", "Name"),
        "DescribeRule": on_rule("events:DescribeRule", "Name"),
        "DeleteRule": on_rule("events:DeleteRule", "Name"),
        "EnableRule": on_rule("events:EnableRule", "Name"),
        "DisableRule": on_rule("events:DisableRule", "Name"),
        "PutTargets": on_rule("events:PutTargets", "Rule"),
        "RemoveTargets": on_rule("events:RemoveTargets", "Rule"),
        "ListTargetsByRule": on_rule("events:ListTargetsByRule", "Rule"),
        "ListRules": fixed("events:ListRules"),
        "ListRuleNamesByTarget": fixed("events:ListRuleNamesByTarget"),
        "PutEvents": put_events,
        "TestEventPattern": fixed("events:TestEventPattern"),
        "TagResource": on_resource("events:TagResource"),
        "UntagResource": on_resource("events:UntagResource"),
        "ListTagsForResource": on_resource("events:ListTagsForResource"),
    }
