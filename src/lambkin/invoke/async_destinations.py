"""Where a finished async event goes: the destination record (§5's shape), SQS queues, functions, the DLQ,
each delivered only when the function's execution role may (as Lambda delivers with that role)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lambkin import json_depth
from lambkin.environments.results import FunctionError, Outcome
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.queues.errors import QueueElsewhere, QueueError, QueueUnavailable
from lambkin.queues.messages import AttributeValue
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService

log = logging.getLogger("lambkin.invoke.async")

ERROR_MESSAGE_LIMIT = 1024  # the DLQ's ErrorMessage attribute carries the first 1 KB

Refused = Callable[[str, str, str], str | None]
"""(role ARN, function name, target ARN) -> None if a session of the function's role may deliver to the
target, else the action refused there ("sqs:SendMessage", "lambda:InvokeFunction"). The wiring passes the
control plane's `Delivery.refused`."""

Forward = Callable[[str, str, SendRequest, str], Awaitable[None]]
"""(node, queue name, message, sender): sends the message to a queue another node owns, through that node
(api/cluster_queues.py); raises the queue's own error, or QueueUnavailable."""


@dataclass(frozen=True)
class Attempt:
    """The last attempt's result, for the record's responseContext and responsePayload."""

    outcome: Outcome
    executed_version: str


def _json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json_depth.loads(raw)
    except ValueError:  # carried as text, however deep
        return raw.decode("utf-8", "replace")


def qualified_arn(invoked_arn: str) -> str:
    """requestContext.functionArn always names a qualifier: an unqualified invoke ran $LATEST."""
    return invoked_arn if invoked_arn.count(":") >= 7 else f"{invoked_arn}:$LATEST"


def destination_record(
    event: AsyncEvent, condition: str, attempt: Attempt | None, now: float
) -> dict[str, Any]:
    """The invocation record a destination receives (as the body of an SQS message or a function's event)."""
    moment = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": qualified_arn(event.invoked_arn),
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": _json_or_text(event.body),
    }
    if attempt is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": attempt.executed_version}
        if isinstance(attempt.outcome, FunctionError):
            context["functionError"] = "Unhandled"
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(attempt.outcome.payload)
    return record


def error_message(attempt: Attempt | None, condition: str) -> str:
    """The DLQ's ErrorMessage: the function's errorMessage, else why the event gave up."""
    if attempt is not None and isinstance(attempt.outcome, FunctionError):
        body = _json_or_text(attempt.outcome.payload)
        if isinstance(body, dict) and isinstance(body.get("errorMessage"), str):
            return str(body["errorMessage"])[:ERROR_MESSAGE_LIMIT]
        return attempt.outcome.error_type
    return condition


def function_of(arn: str) -> tuple[str, str | None]:
    """The name and qualifier of a Lambda function ARN."""
    parts = arn.split(":")
    return parts[6], parts[7] if len(parts) > 7 else None


class Destinations:
    """Delivers records to lambkin's queues in process; a function destination becomes a new async event.
    With `refused`, each delivery first asks whether the function's role may make it."""

    def __init__(
        self, queues: QueueService | None, refused: Refused | None = None, forward: Forward | None = None
    ) -> None:
        self.queues = queues
        self.refused = refused
        self.forward = forward

    def allowed(self, role: str, function: str, arn: str, request_id: str) -> bool:
        """Whether the function's role may deliver to `arn` now (its policies may have changed since the
        target was configured). A refusal is logged and the record is not delivered, as Lambda drops it."""
        action = None if self.refused is None else self.refused(role, function, arn)
        if action is None:
            return True
        log.warning(
            "async event %s: the execution role %s of function %s is not allowed %s on %s; "
            "the record is not delivered",
            request_id,
            role,
            function,
            action,
            arn,
        )
        return False

    def is_function(self, arn: str) -> bool:
        return arn.split(":")[2:3] == ["lambda"]

    def event_for(self, arn: str, record: dict[str, Any], now: float) -> AsyncEvent:
        """The async event that delivers `record` to the function `arn`."""
        name, qualifier = function_of(arn)
        return AsyncEvent(
            request_id=str(uuid.uuid4()),
            function=name,
            qualifier=qualifier,
            invoked_arn=arn,
            payload=json.dumps(record).encode(),
            accepted_at=now,
            due=now,
        )

    async def to_queue(
        self, arn: str, body: str, attributes: dict[str, AttributeValue] | None = None
    ) -> bool:
        """Sends one message (through the node that owns its queue); False (logged) when the queue is
        missing or refuses it, as Lambda drops it; QueueUnavailable when it could not be sent now (the
        attempt waits and runs again)."""
        if self.queues is None:
            log.warning("no queue service: a record for %s is dropped", arn)
            return False
        name = self.queues.registry.name_of_arn(arn)
        if name is None:
            log.warning("destination queue %s does not exist: the record is dropped", arn)
            return False
        request = SendRequest(body=body, attributes=attributes or {})
        try:
            try:
                await self.queues.send(name, request, "lambda")
            except QueueElsewhere as elsewhere:
                if self.forward is None:
                    raise QueueUnavailable(f"the queue {name} is another node's") from None
                await self.forward(elsewhere.node, name, request, "lambda")
        except QueueUnavailable:
            raise
        except QueueError as exc:
            log.warning("destination queue %s refused the record: %s", arn, exc)
            return False
        return True

    async def dead_letter(self, arn: str, event: AsyncEvent, attempt: Attempt | None, condition: str) -> bool:
        """The original event to the function's dead-letter queue, with RequestID, ErrorCode, ErrorMessage."""
        if arn.split(":")[2:3] != ["sqs"]:
            log.warning("dead-letter target %s is not an SQS queue: the event is dropped", arn)
            return False
        attributes = {
            "RequestID": AttributeValue("String", event.request_id),
            "ErrorCode": AttributeValue("Number", "200"),
            "ErrorMessage": AttributeValue("String", error_message(attempt, condition)),
        }
        return await self.to_queue(arn, event.body.decode("utf-8", "replace"), attributes)
