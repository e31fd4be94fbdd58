"""Scheduler's schedules as the timer sees them: each enabled schedule's plan (expression, time zone,
StartDate and EndDate, flexible window, retry policy), its firing sent to its target with the schedule's
Input (context attributes filled in), the target's dead-letter queue when delivery gives up, and
ActionAfterCompletion once the last firing is done."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from lambkin.events.bridge.outlets import Delivery, Failure, Outlets
from lambkin.events.bridge.publish import iso
from lambkin.events.schedules.expressions import Rate, parse, zone
from lambkin.events.schedules.firings import Firing, FiringStore
from lambkin.events.schedules.scheduler import Schedules, retry_policy
from lambkin.events.schedules.timer import Plan
from lambkin.queues.messages import AttributeValue

log = logging.getLogger("lambkin.events.schedules")
_JUST_BEFORE = 0.001
PREPARED_LIMIT = 100_000


def plan_of(schedule: dict[str, Any]) -> Plan:
    """A schedule's plan: a rate fires first at StartDate, or at once when it has none; cron and at fire
    at their times after StartDate (or creation)."""
    expression = parse(schedule["ScheduleExpression"], allow_at=True)
    created = float(schedule["CreationDate"])
    start = schedule.get("StartDate")
    anchor = float(start) if start is not None else created
    since = anchor - _JUST_BEFORE if isinstance(expression, Rate) or start is not None else created
    window = schedule["FlexibleTimeWindow"]
    max_age, retries = retry_policy(schedule)
    return Plan(
        schedule["Arn"],
        expression,
        zone(schedule.get("ScheduleExpressionTimezone")),
        anchor=anchor,
        since=since,
        end=schedule.get("EndDate"),
        window_s=60.0 * (window.get("MaximumWindowInMinutes") or 0)
        if window.get("Mode") == "FLEXIBLE"
        else 0.0,
        max_age_s=float(max_age),
        max_retries=retries,
    )


def _input(schedule: dict[str, Any], firing: Firing) -> str:
    text = schedule["Target"].get("Input")
    if text is None:
        return "{}"
    context = {
        "<aws.scheduler.schedule-arn>": schedule["Arn"],
        "<aws.scheduler.scheduled-time>": iso(firing.due),
        "<aws.scheduler.execution-id>": _execution_id(firing),
        "<aws.scheduler.attempt-number>": str(firing.attempts + 1),
    }
    for name, value in context.items():
        text = text.replace(name, value)
    return str(text)


def _delivery(schedule: dict[str, Any], firing: Firing) -> Delivery:
    target = schedule["Target"]
    group = (target.get("SqsParameters") or {}).get("MessageGroupId")
    return Delivery(target["Arn"], _input(schedule, firing), schedule["Arn"], group, _execution_id(firing))


def _execution_id(firing: Firing) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{firing.source}@{firing.due}"))


class ScheduledTargets:
    def __init__(self, schedules: Schedules, outlets: Outlets, firings: FiringStore) -> None:
        self.schedules = schedules
        self.outlets = outlets
        self.firings = firings
        self._plans: dict[str, tuple[float, Plan]] = {}
        # firings due within the timer's lookahead: what they send, built ahead (and the schedule's
        # LastModificationDate then, so that a schedule updated since is built again)
        self._prepared: dict[tuple[str, float, int], tuple[float, Delivery]] = {}

    def plans(self) -> Iterator[Plan]:
        for schedule in list(self.schedules.schedules.values()):
            if schedule["State"] != "ENABLED":
                continue
            known = self._plans.get(schedule["Arn"])
            if known is None or known[0] != schedule["LastModificationDate"]:
                known = self._plans[schedule["Arn"]] = (schedule["LastModificationDate"], plan_of(schedule))
            yield known[1]

    def prepare(self, plan: Plan, firing: Firing) -> None:
        schedule = self.schedules.by_arn(plan.source)
        if schedule is not None:
            if len(self._prepared) > PREPARED_LIMIT:
                self._prepared.clear()
            key = (firing.source, firing.due, firing.attempts)
            self._prepared[key] = (schedule["LastModificationDate"], _delivery(schedule, firing))

    async def fire(self, plan: Plan, firing: Firing, now: float) -> None:
        schedule = self.schedules.by_arn(plan.source)
        if schedule is None or schedule["State"] != "ENABLED":  # deleted or disabled since
            return
        prepared = self._prepared.pop((firing.source, firing.due, firing.attempts), None)
        if prepared is not None and prepared[0] == schedule["LastModificationDate"]:
            await self.outlets.deliver(prepared[1])
        else:
            await self.outlets.deliver(_delivery(schedule, firing))

    async def give_up(self, plan: Plan, firing: Firing, failure: Failure) -> None:
        schedule = self.schedules.by_arn(plan.source)
        dlq = None if schedule is None else (schedule["Target"].get("DeadLetterConfig") or {}).get("Arn")
        if schedule is None or not dlq:
            log.warning("%s: the firing due at %.0f is dropped: %s", plan.source, firing.due, failure)
            return
        attributes = {
            "ERROR_CODE": AttributeValue("String", failure.code),
            "ERROR_MESSAGE": AttributeValue("String", failure.message),
            "EXECUTION_ID": AttributeValue("String", _execution_id(firing)),
            "SCHEDULE_ARN": AttributeValue("String", plan.source),
            "TARGET_ARN": AttributeValue("String", schedule["Target"]["Arn"]),
            "ATTEMPT_NUMBER": AttributeValue("Number", str(firing.attempts + 1)),
        }
        letter = Delivery(dlq, _input(schedule, firing), plan.source, "dead-letter", _execution_id(firing))
        try:
            await self.outlets.send(dlq, letter, attributes)
        except Failure as second:
            log.warning("%s: its dead-letter queue refused a firing: %s", plan.source, second.message)

    async def finished(self, plan: Plan) -> None:
        schedule = self.schedules.by_arn(plan.source)
        if schedule is not None and schedule.get("ActionAfterCompletion") == "DELETE":
            await self.schedules.delete(schedule["GroupName"], schedule["Name"])
            await self.firings.forget(plan.source)
