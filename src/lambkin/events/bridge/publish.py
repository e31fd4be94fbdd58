"""PutEvents: each entry checked as AWS does, wrapped in the event envelope, matched against every enabled
rule of its bus, and delivered to each matching rule's targets (or kept to retry, or dead-lettered) before
the caller hears its EventId."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.events.bridge import values
from lambkin.events.bridge.errors import Invalid
from lambkin.events.bridge.outlets import Delivery
from lambkin.events.bridge.retries import Retries, pending
from lambkin.events.bridge.service import Bridge, Rule, bus_name
from lambkin.events.bridge.store import Document
from lambkin.events.bridge.transform import target_input

ENTRY_LIMIT = 1_048_576  # bytes of one entry (Source, DetailType, Detail, Resources; 14 for Time)
_REQUIRED = ("Source", "DetailType", "Detail")
Refused = Callable[[str], str | None]


def iso(seconds: float) -> str:
    """An envelope's `time`: ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def entry_size(entry: Mapping[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for key in _REQUIRED:
        size += len(str(entry.get(key) or "").encode())
    return size + sum(len(str(resource).encode()) for resource in entry.get("Resources") or [])


class Publisher:
    def __init__(self, bridge: Bridge, retries: Retries, clock: Clock = SYSTEM_CLOCK) -> None:
        self.bridge = bridge
        self.retries = retries
        self.clock = clock

    async def put_events(
        self, entries: Sequence[Mapping[str, Any]], refused: Refused = lambda bus_arn: None
    ) -> list[Document]:
        """PutEvents' result entries, in the order of `entries`; an entry for a bus the caller may not put
        events on (`refused`: AWS's AccessDenied message, or None) fails with AccessDeniedException."""
        if not any(all(entry.get(key) for key in _REQUIRED) for entry in entries):
            raise Invalid("Parameters Source, DetailType and Detail are required for at least one entry.")
        return [await self._put(entry, refused) for entry in entries]

    async def _put(self, entry: Mapping[str, Any], refused: Refused) -> Document:
        missing = [key for key in _REQUIRED if not entry.get(key)]
        if missing:
            return _failed("InvalidArgument", f"Parameter(s) {', '.join(missing)} must be specified.")
        if entry_size(entry) > ENTRY_LIMIT:
            return _failed("InvalidArgument", "Total size of the entries in the request is over the limit.")
        source = str(entry["Source"])
        if source.startswith("aws."):
            return _failed("NotAuthorizedForSourceException", "Not authorized for the source.")
        try:
            matched_detail = values.loads(entry["Detail"])
        except ValueError:
            return _failed("MalformedDetail", "Detail is malformed.")
        if not isinstance(matched_detail, dict):
            return _failed("MalformedDetail", "Detail is malformed.")
        name = bus_name(entry.get("EventBusName"))
        denial = refused(f"arn:aws:events:{self.bridge.region}:{self.bridge.account_id}:event-bus/{name}")
        if denial is not None:
            return _failed("AccessDeniedException", denial)
        if name not in self.bridge.buses:
            return _failed("InvalidArgument", f"Event bus {name} does not exist.")
        now = self.clock.now()
        event: Document = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": str(entry["DetailType"]),
            "source": source,
            "account": self.bridge.account_id,
            "time": iso(_seconds(entry["Time"]) if entry.get("Time") is not None else now),
            "region": self.bridge.region,
            "resources": list(entry.get("Resources") or []),
            "detail": values.plain(matched_detail),
        }
        matched = {
            **values.scalar({k: v for k, v in event.items() if k != "detail"}),
            "detail": matched_detail,
        }
        for rule in list(self.bridge.rules_of(name)):
            if rule.enabled and rule.pattern is not None and rule.pattern.matches(matched):
                await self.fire(rule, event, now)
        return {"EventId": event["id"]}

    async def fire(self, rule: Rule, event: Document, ingested: float) -> None:
        """Delivers `event` to every target of `rule`: each delivered, kept to retry by its RetryPolicy, or
        sent to its dead-letter queue (logged and dropped without one)."""
        original = json.dumps(event)
        for target in rule.targets:
            body = target_input(target, event, rule.arn, iso(ingested))
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            delivery = Delivery(target["Arn"], body, rule.arn, group, event["id"])
            await self.retries.deliver(pending(target, delivery, original, ingested))


def _failed(code: str, message: str) -> Document:
    return {"ErrorCode": code, "ErrorMessage": message}
