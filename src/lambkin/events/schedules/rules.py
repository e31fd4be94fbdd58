"""Scheduled rules as the timer sees them: each enabled rule with a ScheduleExpression fires, in UTC, the
event AWS sends ("Scheduled Event" from aws.events) to the rule's targets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from lambkin.events.bridge.outlets import Failure
from lambkin.events.bridge.publish import Publisher, iso
from lambkin.events.schedules.expressions import parse
from lambkin.events.schedules.firings import Firing
from lambkin.events.schedules.timer import Plan

log = logging.getLogger("lambkin.events.schedules")
UTC = ZoneInfo("UTC")


class ScheduledRules:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.bridge = publisher.bridge
        self._plans: dict[tuple[str, str, float], Plan] = {}

    def plans(self) -> Iterator[Plan]:
        for rule in list(self.bridge.rules.values()):
            expression = rule.document.get("ScheduleExpression")
            if not expression or not rule.enabled:
                continue
            created = float(rule.document.get("Created", 0.0))
            key = (rule.arn, expression, created)
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = Plan(
                    rule.arn, parse(expression), UTC, anchor=created, since=created
                )
            yield plan

    def prepare(self, plan: Plan, firing: Firing) -> None:
        return None  # the event's id is drawn at its firing

    async def fire(self, plan: Plan, firing: Firing, now: float) -> None:
        rule = next((r for r in self.bridge.rules.values() if r.arn == plan.source), None)
        if rule is None or not rule.enabled:  # deleted or disabled since
            return
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.bridge.account_id,
            "time": iso(firing.due),
            "region": self.bridge.region,
            "resources": [rule.arn],
            "detail": {},
        }
        await self.publisher.fire(rule, event, now)

    async def give_up(self, plan: Plan, firing: Firing, failure: Failure) -> None:
        log.warning("%s: the firing due at %.0f is dropped: %s", plan.source, firing.due, failure)

    async def finished(self, plan: Plan) -> None:
        return None
