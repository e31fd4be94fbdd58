"""Where EventBridge and Scheduler deliver: a Lambda function (any qualifier) by an async invoke through
the async path (so its retries, destinations and dead-letter queue apply), or a lambkin queue; the target's
own dead-letter queue when delivery fails.

A function's resource policy (and a queue's policy) must allow the service principal to deliver, as in AWS:
`Permitted` asks the policy engine, and a refusal is the failure `NO_PERMISSIONS`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.functions.errors import FunctionsError
from lambkin.invoke.async_destinations import Forward, function_of
from lambkin.invoke.async_lifecycle import AsyncEvent
from lambkin.invoke.targets import FunctionBusy, Resolve
from lambkin.queues.errors import QueueElsewhere, QueueError, QueueUnavailable
from lambkin.queues.messages import AttributeValue
from lambkin.queues.sending import SendRequest
from lambkin.queues.service import QueueService

log = logging.getLogger("lambkin.events.bridge")

# Whether the service principal (events.amazonaws.com) may do `action` on `resource`, by the resource's own
# policy, for the source `source_arn` (a rule's or a schedule's ARN).
Permitted = Callable[[str, str, str], bool]
Accept = Callable[[list[AsyncEvent]], Awaitable[None]]


class Failure(Exception):
    """A delivery that failed: EventBridge's dead-letter ERROR_CODE and ERROR_MESSAGE; `retryable` for a
    reason that may pass (the function Pending or Failed, the queue store away), else retrying cannot help
    (no permission, no such target)."""

    def __init__(self, code: str, message: str, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for one target: its text, and who sends it (for the policy check and the DLQ)."""

    target_arn: str
    body: str
    source_arn: str
    group_id: str | None = None
    dedup_id: str | None = None


class Outlets:
    def __init__(
        self,
        resolve: Resolve,
        accept: Accept,
        queues: QueueService,
        permitted: Permitted,
        principal: str = "events.amazonaws.com",
        forward: Forward | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.resolve = resolve
        self.accept = accept
        self.queues = queues
        self.permitted = permitted
        self.principal = principal
        self.forward = forward  # in a cluster: a message for a queue another node owns, sent through it
        self.clock = clock

    async def deliver(self, delivery: Delivery) -> None:
        """Stores the message durably with its target (an async event, or a queue's message); Failure if
        the target does not exist or does not allow the sender."""
        service = delivery.target_arn.split(":")[2:3]
        if service == ["lambda"]:
            await self._invoke(delivery)
        elif service == ["sqs"]:
            await self._send(delivery)
        else:
            raise Failure("SDK_CLIENT_ERROR", f"Target {delivery.target_arn} is not supported by lambkin.")

    async def _invoke(self, delivery: Delivery) -> None:
        arn = delivery.target_arn
        name, qualifier = function_of(arn)
        try:
            target = await self.resolve(name, qualifier)
        except FunctionBusy as exc:
            raise Failure("SDK_CLIENT_ERROR", exc.message, retryable=True) from None
        except FunctionsError as exc:
            raise Failure("RESOURCE_NOT_FOUND", exc.message) from None
        if not self.permitted("lambda:InvokeFunction", arn, delivery.source_arn):
            raise Failure(
                "NO_PERMISSIONS",
                f"The resource policy of {arn} does not allow {self.principal} to invoke it.",
            )
        now = self.clock.now()
        event = AsyncEvent(
            request_id=str(uuid.uuid4()),
            function=target.version.name,
            qualifier=target.qualifier,
            invoked_arn=target.invoked_arn,
            payload=delivery.body.encode(),
            accepted_at=now,
            due=now,
        )
        await self.accept([event])

    async def _send(self, delivery: Delivery) -> None:
        await self.send(delivery.target_arn, delivery, {})

    async def send(self, arn: str, delivery: Delivery, attributes: dict[str, AttributeValue]) -> None:
        name = self.queues.registry.name_of_arn(arn)
        queue = self.queues.registry.queues.get(name) if name else None
        if name is None or queue is None or queue.deleted:
            raise Failure("RESOURCE_NOT_FOUND", f"Queue {arn} does not exist.")
        if not self.permitted("sqs:SendMessage", arn, delivery.source_arn):
            raise Failure(
                "NO_PERMISSIONS", f"The policy of {arn} does not allow {self.principal} to send to it."
            )
        request = SendRequest(
            body=delivery.body,
            attributes=attributes,
            group_id=delivery.group_id if queue.fifo else None,
            deduplication_id=delivery.dedup_id if queue.fifo else None,
        )
        try:
            try:
                await self.queues.send(name, request, self.principal)
            except QueueElsewhere as elsewhere:
                if self.forward is None or queue.fifo:  # a forward carries no group or deduplication id
                    raise QueueUnavailable(f"the queue {name} is another node's") from None
                await self.forward(elsewhere.node, name, request, self.principal)
        except QueueUnavailable as exc:
            raise Failure("SDK_CLIENT_ERROR", exc.message, retryable=True) from None
        except QueueError as exc:
            raise Failure("SDK_CLIENT_ERROR", exc.message) from None

    async def dead_letter(
        self, dlq_arn: str, delivery: Delivery, original: str, attributes: dict[str, AttributeValue]
    ) -> bool:
        """The original event to the target's dead-letter queue with `attributes` (the failure's); False
        (logged) if that fails too."""
        letter = Delivery(dlq_arn, original, delivery.source_arn, "dead-letter", str(uuid.uuid4()))
        try:
            await self.send(dlq_arn, letter, attributes)
        except Failure as second:
            log.warning(
                "dead-letter queue %s refused an event for %s: %s",
                dlq_arn,
                delivery.target_arn,
                second.message,
            )
            return False
        return True
