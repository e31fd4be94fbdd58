"""EventBridge's buses, rules and targets: kept in memory, each change committed to the store first, each
rule's pattern compiled once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.events.bridge.errors import AlreadyExists, Invalid, LimitExceeded, NotFound
from lambkin.events.bridge.patterns import Pattern, compile_pattern
from lambkin.events.bridge.store import BridgeStore, Document
from lambkin.events.bridge.transform import check_target
from lambkin.events.schedules.expressions import ExpressionError, parse

DEFAULT_BUS = "default"
TARGETS_PER_RULE = 5
BUSES_PER_ACCOUNT = 100


@dataclass(slots=True)
class Rule:
    """A rule's document (DescribeRule's fields, plus Targets and Tags) and its compiled pattern."""

    document: Document
    pattern: Pattern | None = None
    targets: list[Document] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.document["Name"])

    @property
    def arn(self) -> str:
        return str(self.document["Arn"])

    @property
    def enabled(self) -> bool:
        return bool(self.document.get("State", "ENABLED") != "DISABLED")


def bus_name(given: str | None) -> str:
    """A bus named by name or ARN."""
    if not given:
        return DEFAULT_BUS
    return given.split(":event-bus/", 1)[1] if given.startswith("arn:") and ":event-bus/" in given else given


class Bridge:
    def __init__(
        self,
        store: BridgeStore,
        region: str,
        account_id: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.buses: dict[str, Document] = {}
        self.rules: dict[tuple[str, str], Rule] = {}

    def load(self) -> None:
        self._take(*self.store.load())

    async def refresh(self) -> None:
        """What the store holds now (in a cluster, other nodes' changes too); a pattern unchanged is not
        compiled again."""
        self._take(*await self.store.read())

    def _take(self, buses: list[Document], rules: list[Document]) -> None:
        default = self.buses.get(DEFAULT_BUS) or self._bus_document(DEFAULT_BUS, None)
        self.buses = {DEFAULT_BUS: default, **{bus["Name"]: bus for bus in buses}}
        known = {key: rule.pattern for key, rule in self.rules.items()}
        texts = {key: rule.document.get("EventPattern") for key, rule in self.rules.items()}
        taken: dict[tuple[str, str], Rule] = {}
        for document in rules:
            targets = document.pop("Targets", [])
            key = (document["EventBusName"], document["Name"])
            text = document.get("EventPattern")
            pattern = known[key] if key in known and texts[key] == text else _compiled(text)
            taken[key] = Rule(document, pattern, targets)
        self.rules = taken

    # Buses.

    def _bus_document(self, name: str, description: str | None) -> Document:
        now = self.clock.now()
        bus: Document = {
            "Name": name,
            "Arn": f"arn:aws:events:{self.region}:{self.account_id}:event-bus/{name}",
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        if description:
            bus["Description"] = description
        return bus

    def bus(self, given: str | None) -> Document:
        name = bus_name(given)
        found = self.buses.get(name)
        if found is None:
            raise NotFound(f"Event bus {name} does not exist.")
        return found

    async def create_bus(self, name: str, description: str | None, tags: Sequence[Document]) -> Document:
        if name == DEFAULT_BUS:
            raise Invalid("Event bus name cannot be 'default'.")
        if "/" in name:
            raise Invalid("Event bus name must not contain '/'.")
        if name in self.buses:
            raise AlreadyExists(f"Event bus {name} already exists.")
        if len(self.buses) >= BUSES_PER_ACCOUNT:
            raise LimitExceeded("The requested resource exceeds the maximum number allowed.")
        bus = self._bus_document(name, description)
        bus["Tags"] = list(tags)
        await self.store.put_bus(bus)
        self.buses[name] = bus
        return bus

    async def delete_bus(self, given: str) -> None:
        name = bus_name(given)
        if name == DEFAULT_BUS:
            raise Invalid("Cannot delete event bus default.")
        if name not in self.buses:
            return  # AWS answers success for a bus that is not there
        await self.store.remove_bus(name)
        del self.buses[name]
        for key in [key for key in self.rules if key[0] == name]:
            del self.rules[key]

    # Rules.

    def rule_arn(self, bus: str, name: str) -> str:
        middle = name if bus == DEFAULT_BUS else f"{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.account_id}:rule/{middle}"

    def rule(self, given_bus: str | None, name: str) -> Rule:
        bus = self.bus(given_bus)["Name"]
        found = self.rules.get((bus, name))
        if found is None:
            raise NotFound(f"Rule {name} does not exist on EventBus {bus}.")
        return found

    def rules_of(self, bus: str) -> Iterator[Rule]:
        return (rule for (owner, _), rule in self.rules.items() if owner == bus)

    async def put_rule(self, params: Document) -> Rule:
        bus = self.bus(params.get("EventBusName"))["Name"]
        name = params["Name"]
        pattern_text, schedule = params.get("EventPattern"), params.get("ScheduleExpression")
        if not pattern_text and not schedule:
            raise Invalid("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if schedule:
            if bus != DEFAULT_BUS:
                raise Invalid("ScheduleExpression is supported only on the default event bus.")
            try:
                parse(schedule)
            except ExpressionError:
                raise Invalid("Parameter ScheduleExpression is not valid.") from None
        pattern = _compiled(pattern_text)
        existing = self.rules.get((bus, name))
        document: Document = {
            "Name": name,
            "Arn": self.rule_arn(bus, name),
            "EventBusName": bus,
            "State": params.get("State") or "ENABLED",
            "CreatedBy": self.account_id,
            "Created": existing.document.get("Created", self.clock.now()) if existing else self.clock.now(),
        }
        for key in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
            if params.get(key):
                document[key] = params[key]
        document["Tags"] = existing.document.get("Tags", []) if existing else list(params.get("Tags") or [])
        rule = Rule(document, pattern, existing.targets if existing else [])
        await self._save(rule)
        self.rules[bus, name] = rule
        return rule

    async def _save(self, rule: Rule) -> None:
        await self.store.put_rule({**rule.document, "Targets": rule.targets})

    async def set_state(self, given_bus: str | None, name: str, state: str) -> None:
        rule = self.rule(given_bus, name)
        updated = Rule({**rule.document, "State": state}, rule.pattern, rule.targets)
        await self._save(updated)
        self.rules[rule.document["EventBusName"], name] = updated

    async def delete_rule(self, given_bus: str | None, name: str) -> None:
        bus = self.bus(given_bus)["Name"]
        rule = self.rules.get((bus, name))
        if rule is None:
            return  # AWS answers success for a rule that is not there
        if rule.targets:
            raise Invalid("Rule can't be deleted since it has targets.")
        await self.store.remove_rule(bus, name)
        del self.rules[bus, name]

    # Targets.

    async def put_targets(self, given_bus: str | None, name: str, targets: Sequence[Document]) -> None:
        rule = self.rule(given_bus, name)
        for target in targets:
            problem = check_target(target)
            if problem is not None:
                raise Invalid(f"{problem} (target {target['Id']})")
        merged = {target["Id"]: target for target in rule.targets}
        merged.update({target["Id"]: dict(target) for target in targets})
        if len(merged) > TARGETS_PER_RULE:
            raise LimitExceeded("The requested resource exceeds the maximum number allowed.")
        updated = Rule(rule.document, rule.pattern, list(merged.values()))
        await self._save(updated)
        self.rules[rule.document["EventBusName"], name] = updated

    async def remove_targets(self, given_bus: str | None, name: str, ids: Sequence[str]) -> list[str]:
        """Removes the targets of `ids`; the ids the rule has no target of."""
        rule = self.rule(given_bus, name)
        known = {target["Id"] for target in rule.targets}
        updated = Rule(rule.document, rule.pattern, [t for t in rule.targets if t["Id"] not in set(ids)])
        await self._save(updated)
        self.rules[rule.document["EventBusName"], name] = updated
        return [target_id for target_id in ids if target_id not in known]

    # Tags.

    def _tagged(self, arn: str) -> tuple[Document, Rule | None]:
        for bus in self.buses.values():
            if bus["Arn"] == arn:
                return bus, None
        for rule in self.rules.values():
            if rule.arn == arn:
                return rule.document, rule
        raise NotFound(f"Resource {arn} does not exist.")

    def tags(self, arn: str) -> list[Document]:
        return list(self._tagged(arn)[0].get("Tags", []))

    async def tag(self, arn: str, tags: Sequence[Document], remove: Sequence[str] = ()) -> None:
        document, rule = self._tagged(arn)
        merged = {tag["Key"]: tag["Value"] for tag in document.get("Tags", [])}
        merged.update({tag["Key"]: tag["Value"] for tag in tags})
        for key in remove:
            merged.pop(key, None)
        document["Tags"] = [{"Key": key, "Value": value} for key, value in merged.items()]
        if rule is not None:
            await self._save(rule)
        elif document["Name"] != DEFAULT_BUS:
            await self.store.put_bus(document)


def _compiled(text: Any) -> Pattern | None:
    return compile_pattern(text) if text else None
