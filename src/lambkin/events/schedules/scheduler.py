"""EventBridge Scheduler's schedules and schedule groups: checked as Scheduler does, kept in memory, each
change committed to lambkin.db first."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.events.bridge.errors import Conflict, Invalid, NotFound
from lambkin.events.schedules.expressions import ExpressionError, parse, zone
from lambkin.store import Connection, Migration, Store

MIGRATIONS = [
    Migration(
        "scheduler",
        1,
        """
        CREATE TABLE scheduler_schedules (
            group_name TEXT NOT NULL,
            name TEXT NOT NULL,
            schedule TEXT NOT NULL,
            PRIMARY KEY (group_name, name)
        )
        """,
    ),
    Migration(
        "scheduler",
        2,
        """
        CREATE TABLE scheduler_groups (
            name TEXT PRIMARY KEY,
            grp TEXT NOT NULL
        )
        """,
    ),
]

DEFAULT_GROUP = "default"
DEFAULT_MAX_AGE_S = 86400
DEFAULT_RETRIES = 185
Document = dict[str, Any]


def _read(conn: Connection) -> tuple[list[Any], list[Any]]:
    groups = conn.execute("SELECT grp FROM scheduler_groups").fetchall()
    schedules = conn.execute("SELECT schedule FROM scheduler_schedules").fetchall()
    return groups, schedules


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


ROLE_NOT_ASSUMABLE = "The execution role you provide must allow AWS EventBridge Scheduler to assume the role."
# Whether Scheduler may assume the role (its ARN) for the schedule (its ARN): it exists and trusts
# scheduler.amazonaws.com (lambkin.identity.execution_roles.scheduler_can_assume).
CanAssume = Callable[[str, str], bool]


class Schedules:
    def __init__(
        self, db: Store, region: str, account_id: str, can_assume: CanAssume, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.db = db
        self.region = region
        self.account_id = account_id
        self.can_assume = can_assume
        self.clock = clock
        self.groups: dict[str, Document] = {}
        self.schedules: dict[tuple[str, str], Document] = {}

    def load(self) -> None:
        self._take(*self.db.run_sync(_read))

    async def refresh(self) -> None:
        """What the store holds now (in a cluster, other nodes' changes too)."""
        self._take(*await self.db.run(_read))

    def _take(self, groups: list[Any], schedules: list[Any]) -> None:
        default = {DEFAULT_GROUP: self._group(DEFAULT_GROUP, 0.0)}
        self.groups = {**default, **{g["Name"]: g for g in (json.loads(r[0]) for r in groups)}}
        self.schedules = {(s["GroupName"], s["Name"]): s for s in (json.loads(r[0]) for r in schedules)}

    def _arn(self, kind: str, path: str) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account_id}:{kind}/{path}"

    def _group(self, name: str, now: float) -> Document:
        arn = self._arn("schedule-group", name)
        return {"Name": name, "Arn": arn, "State": "ACTIVE", "CreationDate": now, "LastModificationDate": now}

    # Groups.

    def group(self, name: str) -> Document:
        found = self.groups.get(name)
        if found is None:
            raise NotFound(f"Schedule group {name} does not exist.")
        return found

    async def create_group(self, name: str, tags: list[Document]) -> Document:
        if name in self.groups:
            raise Conflict(f"Schedule group {name} already exists.")
        group = {**self._group(name, self.clock.now()), "Tags": tags}
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO scheduler_groups (name, grp) VALUES (?, ?)", (name, json.dumps(group))
            )
        )
        self.groups[name] = group
        return group

    async def delete_group(self, name: str) -> None:
        if name == DEFAULT_GROUP:
            raise Invalid("Cannot delete the default schedule group.")
        self.group(name)

        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM scheduler_schedules WHERE group_name = ?", (name,))
            conn.execute("DELETE FROM scheduler_groups WHERE name = ?", (name,))

        await self.db.run(write)
        del self.groups[name]
        for key in [key for key in self.schedules if key[0] == name]:
            del self.schedules[key]

    def group_of_arn(self, arn: str) -> Document:
        """The schedule group with this ARN (TagResource and its kin name groups by ARN)."""
        name = arn.rpartition(":schedule-group/")[2]
        found = self.groups.get(name)
        if found is None or found["Arn"] != arn:
            raise NotFound(f"Schedule group {name} does not exist.")
        return found

    async def tag_group(self, arn: str, tags: list[Document]) -> None:
        """TagResource: each tag added, or its value replaced when the group has its key already."""
        group = self.group_of_arn(arn)
        given = {tag["Key"]: tag["Value"] for tag in tags}
        kept = [tag for tag in group.get("Tags", []) if tag["Key"] not in given]
        await self._save_group({**group, "Tags": kept + [{"Key": k, "Value": v} for k, v in given.items()]})

    async def untag_group(self, arn: str, keys: list[str]) -> None:
        """UntagResource: the tags with these keys removed (a key the group does not have is no error)."""
        group = self.group_of_arn(arn)
        await self._save_group({**group, "Tags": [t for t in group.get("Tags", []) if t["Key"] not in keys]})

    async def _save_group(self, group: Document) -> None:
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO scheduler_groups (name, grp) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET grp = excluded.grp",
                (group["Name"], json.dumps(group)),
            )
        )
        self.groups[group["Name"]] = group

    # Schedules.

    def get(self, group: str | None, name: str) -> Document:
        group = group or DEFAULT_GROUP
        found = self.schedules.get((group, name))
        if found is None:
            raise NotFound(f"Schedule {name} does not exist.")
        return found

    def by_arn(self, arn: str) -> Document | None:
        group, _, name = arn.rpartition(":schedule/")[2].partition("/")
        return self.schedules.get((group, name))

    async def put(self, params: Mapping[str, Any], update: bool) -> Document:
        group = params.get("GroupName") or DEFAULT_GROUP
        self.group(group)
        name = params["Name"]
        existing = self.schedules.get((group, name))
        if update and existing is None:
            raise NotFound(f"Schedule {name} does not exist.")
        if not update and existing is not None:
            raise Conflict(f"Schedule {name} already exists.")
        schedule = self._checked(params, group, name)
        now = self.clock.now()
        schedule["CreationDate"] = existing["CreationDate"] if existing else now
        schedule["LastModificationDate"] = now
        await self._save(schedule)
        return schedule

    def _checked(self, params: Mapping[str, Any], group: str, name: str) -> Document:
        expression = params["ScheduleExpression"]
        try:
            parse(expression, allow_at=True)
        except ExpressionError:
            raise Invalid(f"Invalid Schedule Expression {expression}.") from None
        timezone = params.get("ScheduleExpressionTimezone")
        try:
            zone(timezone)
        except ExpressionError:
            raise Invalid(f"Invalid Schedule Expression Timezone {timezone}.") from None
        start, end = _seconds(params.get("StartDate")), _seconds(params.get("EndDate"))
        if start is not None and end is not None and end <= start:
            raise Invalid("The EndDate must be after the StartDate.")
        window = dict(params["FlexibleTimeWindow"])
        if window.get("Mode") == "FLEXIBLE" and not window.get("MaximumWindowInMinutes"):
            raise Invalid("MaximumWindowInMinutes must be provided when the Mode is FLEXIBLE.")
        if window.get("Mode") == "OFF" and window.get("MaximumWindowInMinutes"):
            raise Invalid("MaximumWindowInMinutes must not be provided when the Mode is OFF.")
        target = dict(params["Target"])
        if target["Arn"].split(":")[2:3] not in (["lambda"], ["sqs"]):
            raise Invalid(
                f"Target {target['Arn']} is not supported by lambkin: Lambda functions and SQS queues are."
            )
        arn = self._arn("schedule", f"{group}/{name}")
        if not self.can_assume(str(target.get("RoleArn") or ""), arn):
            raise Invalid(ROLE_NOT_ASSUMABLE)
        schedule: Document = {
            "Arn": arn,
            "GroupName": group,
            "Name": name,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone or "UTC",
            "State": params.get("State") or "ENABLED",
            "FlexibleTimeWindow": window,
            "Target": target,
            "ActionAfterCompletion": params.get("ActionAfterCompletion") or "NONE",
        }
        if params.get("Description"):
            schedule["Description"] = params["Description"]
        if start is not None:
            schedule["StartDate"] = start
        if end is not None:
            schedule["EndDate"] = end
        return schedule

    async def _save(self, schedule: Document) -> None:
        await self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO scheduler_schedules (group_name, name, schedule) VALUES (?, ?, ?)"
                " ON CONFLICT (group_name, name) DO UPDATE SET schedule = excluded.schedule",
                (schedule["GroupName"], schedule["Name"], json.dumps(schedule)),
            )
        )
        self.schedules[schedule["GroupName"], schedule["Name"]] = schedule

    async def delete(self, group: str | None, name: str) -> None:
        schedule = self.get(group, name)
        key = (schedule["GroupName"], name)
        await self.db.run(
            lambda conn: conn.execute(
                "DELETE FROM scheduler_schedules WHERE group_name = ? AND name = ?", key
            )
        )
        self.schedules.pop(key, None)


def retry_policy(schedule: Mapping[str, Any]) -> tuple[int, int]:
    """The schedule's (maximum event age in seconds, maximum retry attempts), with Scheduler's defaults."""
    policy = schedule["Target"].get("RetryPolicy") or {}
    age = policy.get("MaximumEventAgeInSeconds")
    retries = policy.get("MaximumRetryAttempts")
    return (
        DEFAULT_MAX_AGE_S if age is None else int(age),
        DEFAULT_RETRIES if retries is None else int(retries),
    )
