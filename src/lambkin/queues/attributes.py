"""Queue names and settable attributes: validation, defaults, and their string form on the wire."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from lambkin import json_depth
from lambkin.identity.policy.document import MalformedPolicy, parse_policy
from lambkin.queues.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
FIFO_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")

# name -> (low, high, default) for the integer attributes.
INTEGER_RANGES: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1024, 1_048_576, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43_200, 30),
}
FIFO_ONLY = {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
OPAQUE = {"Policy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled"}
SETTABLE = set(INTEGER_RANGES) | FIFO_ONLY | OPAQUE | {"RedrivePolicy", "RedriveAllowPolicy", "FifoQueue"}
CHOICES = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
REDRIVE_PERMISSIONS = ("allowAll", "denyAll", "byQueue")


@dataclass(frozen=True)
class RedrivePolicy:
    dead_letter_target_arn: str
    max_receive_count: int

    def render(self) -> str:
        return json.dumps(
            {"deadLetterTargetArn": self.dead_letter_target_arn, "maxReceiveCount": self.max_receive_count},
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class RedriveAllowPolicy:
    permission: str
    source_queue_arns: tuple[str, ...] = ()

    def allows(self, source_arn: str) -> bool:
        if self.permission == "allowAll":
            return True
        return self.permission == "byQueue" and source_arn in self.source_queue_arns

    def render(self) -> str:
        value: dict[str, Any] = {"redrivePermission": self.permission}
        if self.permission == "byQueue":
            value["sourceQueueArns"] = list(self.source_queue_arns)
        return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class QueueConfig:
    """The settable attributes of one queue, already validated."""

    fifo: bool = False
    delay_seconds: int = 0
    maximum_message_size: int = 1_048_576
    message_retention_period: int = 345_600
    receive_message_wait_time_seconds: int = 0
    visibility_timeout: int = 30
    redrive_policy: RedrivePolicy | None = None
    redrive_allow_policy: RedriveAllowPolicy | None = None
    content_based_deduplication: bool = False
    deduplication_scope: str = "queue"
    fifo_throughput_limit: str = "perQueue"
    opaque: tuple[tuple[str, str], ...] = ()

    @property
    def policy(self) -> str | None:
        """The queue's resource-based policy (its Policy attribute), if it has one."""
        return next((value for name, value in self.opaque if name == "Policy"), None)

    def render(self) -> dict[str, str]:
        """Every settable attribute as the wire shows it (strings)."""
        out = {
            "DelaySeconds": str(self.delay_seconds),
            "MaximumMessageSize": str(self.maximum_message_size),
            "MessageRetentionPeriod": str(self.message_retention_period),
            "ReceiveMessageWaitTimeSeconds": str(self.receive_message_wait_time_seconds),
            "VisibilityTimeout": str(self.visibility_timeout),
            # SSE-SQS is on by default, and off for a queue with a KMS key (one kind of encryption a queue)
            "SqsManagedSseEnabled": "false" if any(n == "KmsMasterKeyId" for n, _ in self.opaque) else "true",
        }
        if self.redrive_policy is not None:
            out["RedrivePolicy"] = self.redrive_policy.render()
        if self.redrive_allow_policy is not None:
            out["RedriveAllowPolicy"] = self.redrive_allow_policy.render()
        if self.fifo:
            out["FifoQueue"] = "true"
            out["ContentBasedDeduplication"] = _bool_text(self.content_based_deduplication)
            out["DeduplicationScope"] = self.deduplication_scope
            out["FifoThroughputLimit"] = self.fifo_throughput_limit
        out.update(dict(self.opaque))
        return out


def validate_name(name: str, fifo: bool) -> None:
    pattern = FIFO_NAME_PATTERN if fifo else NAME_PATTERN
    if not pattern.match(name):
        if fifo:
            raise InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                "underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def is_fifo_request(name: str, attributes: dict[str, str]) -> bool:
    """Whether CreateQueue asks for a FIFO queue; a .fifo name without FifoQueue=true is refused."""
    fifo = attributes.get("FifoQueue", "false").lower() == "true"
    if name.endswith(".fifo") and not fifo:
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    return fifo


def apply(config: QueueConfig, attributes: dict[str, str], creating: bool) -> QueueConfig:
    """`config` with `attributes` (wire strings) applied; raises on unknown names or bad values."""
    changes: dict[str, Any] = {}
    opaque = dict(config.opaque)
    for name, value in attributes.items():
        if name in CHOICES and not config.fifo:  # DeduplicationScope, FifoThroughputLimit
            raise InvalidAttributeName(f"You can specify the {name} only when FifoQueue is set to true.")
        if name not in SETTABLE or (name in FIFO_ONLY | {"FifoQueue"} and not config.fifo):
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if name in INTEGER_RANGES:
            changes[_field(name)] = _integer(name, value)
        elif name == "FifoQueue":  # set to what it is: nothing changes
            if value.lower() != _bool_text(config.fifo):
                raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
        elif name == "ContentBasedDeduplication":
            changes["content_based_deduplication"] = _boolean(name, value)
        elif name in CHOICES:
            if value not in CHOICES[name]:
                raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
            changes[_field(name)] = value
        elif name == "RedrivePolicy":
            changes["redrive_policy"] = parse_redrive_policy(value)
        elif name == "RedriveAllowPolicy":
            changes["redrive_allow_policy"] = parse_redrive_allow_policy(value)
        elif name == "Policy":
            _check_policy(value)
            if value:
                opaque[name] = value
            else:
                opaque.pop(name, None)  # an empty Policy removes the queue's policy
        elif name == "KmsMasterKeyId":
            if value:
                opaque[name] = value
                opaque.pop("SqsManagedSseEnabled", None)
            else:  # an empty key turns SSE-KMS off
                opaque.pop(name, None)
        else:
            opaque[name] = value
    return replace(config, **changes, opaque=tuple(sorted(opaque.items())))


def parse_redrive_policy(value: str) -> RedrivePolicy | None:
    if value == "":
        return None
    try:
        raw = json_depth.loads(value)
        arn = raw["deadLetterTargetArn"]
        count = int(raw.get("maxReceiveCount", 10))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameterValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid "
            "JSON map with deadLetterTargetArn and maxReceiveCount."
        ) from exc
    if not isinstance(arn, str) or not 1 <= count <= 1000:
        raise InvalidParameterValue(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: "
            f"{count}, valid values are from 1 to 1000 both inclusive."
        )
    return RedrivePolicy(arn, count)


def parse_redrive_allow_policy(value: str) -> RedriveAllowPolicy | None:
    if value == "":
        return None
    try:
        raw = json_depth.loads(value)
        permission = raw["redrivePermission"]
        sources = tuple(raw.get("sourceQueueArns", ()))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameterValue(
            f"Value {value} for parameter RedriveAllowPolicy is invalid. Reason: not a valid JSON map."
        ) from exc
    if (
        permission not in REDRIVE_PERMISSIONS
        or (permission == "byQueue") != bool(sources)
        or len(sources) > 10
    ):
        raise InvalidParameterValue(
            f"Value {value} for parameter RedriveAllowPolicy is invalid. Reason: Invalid redrivePermission "
            "or sourceQueueArns."
        )
    return RedriveAllowPolicy(permission, sources)


def differs(config: QueueConfig, attributes: dict[str, str]) -> str | None:
    """The first attribute (in the request's order) whose value a repeated CreateQueue names other than the
    queue's own; None if every one matches."""
    current = config.render()
    requested = apply(config, attributes, creating=True).render()
    return next((name for name in attributes if requested.get(name) != current.get(name)), None)


def _check_policy(value: str) -> None:
    """A queue policy must be a resource-based policy IAM accepts (the authorizer decides with it)."""
    if not value:
        return
    try:
        parse_policy(value, "resource")
    except MalformedPolicy as exc:
        raise InvalidAttributeValue(f"Invalid value for the parameter Policy. Reason: {exc.message}") from exc


def _field(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _integer(name: str, value: str) -> int:
    low, high, _ = INTEGER_RANGES[name]
    try:
        number = int(value)
    except ValueError as exc:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.") from exc
    if not low <= number <= high:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return number


def _boolean(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
    return value.lower() == "true"


def _bool_text(value: bool) -> str:
    return "true" if value else "false"
