"""Lambda delivering a function's async results with the function's execution role: the action each target
needs (a queue: sqs:SendMessage; a function: lambda:InvokeFunction), decided with the target's own policy,
and the errors Lambda answers when a dead-letter queue or a destination is configured without it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lambkin.functions.errors import FunctionsError, InvalidParameterValue
from lambkin.functions.model import LATEST
from lambkin.functions.names import Arns
from lambkin.functions.policies import FunctionPolicies

SEND_MESSAGE = "sqs:SendMessage"
INVOKE_FUNCTION = "lambda:InvokeFunction"
_ACTIONS = {"sqs": SEND_MESSAGE, "lambda": INVOKE_FUNCTION}

# Lambda's answers (InvalidParameterValueException): the dead-letter wording is the one AWS users report
# from CreateFunction; a destination the role may not reach gets the same text as a malformed one.
DEAD_LETTER_REFUSED = "The provided execution role does not have permissions to call SendMessage on SQS"


def destination_refused(arn: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"The destination ARN {arn} is invalid.")


class RoleMay(Protocol):
    def __call__(
        self, role_arn: str, session_name: str, action: str, resource: str, policy: str | None
    ) -> bool:
        """Whether a session of the role may do the action on the resource (whose own policy is given)."""
        ...


QueuePolicy = Callable[[str], str | None]
"""A lambkin queue's own policy (its Policy attribute) by the queue's ARN; None without one."""


def delivery_action(arn: str) -> str | None:
    """The action Lambda calls to deliver to `arn` (None: a target lambkin does not deliver to)."""
    return _ACTIONS.get(arn.split(":")[2] if arn.count(":") >= 2 else "")


class Delivery:
    """Answers, for a function's role, whether Lambda may deliver to a target as a session of that role (named
    after the function, as Lambda assumes it); identity decides (`role_may`, passed in by the wiring)."""

    def __init__(
        self, role_may: RoleMay, queue_policy: QueuePolicy, policies: FunctionPolicies, arns: Arns
    ) -> None:
        self.role_may = role_may
        self.queue_policy = queue_policy
        self.policies = policies
        self.arns = arns

    def refused(self, role_arn: str, function_name: str, target: str) -> str | None:
        """None if the role may deliver to `target`; else the action it may not do there."""
        action = delivery_action(target)
        if action is None:
            return None
        policy = self.queue_policy(target) if action == SEND_MESSAGE else self._function_policy(target)
        return None if self.role_may(role_arn, function_name, action, target, policy) else action

    def check_dead_letter(self, role_arn: str, function_name: str, target: str) -> None:
        """CreateFunction's and UpdateFunctionConfiguration's check of DeadLetterConfig.TargetArn."""
        if self.refused(role_arn, function_name, target) is not None:
            raise InvalidParameterValue(DEAD_LETTER_REFUSED)

    def check_destination(self, role_arn: str, function_name: str, target: str) -> None:
        """Put/UpdateFunctionEventInvokeConfig's check of an OnSuccess or OnFailure destination."""
        if self.refused(role_arn, function_name, target) is not None:
            raise destination_refused(target)

    def _function_policy(self, arn: str) -> str | None:
        """The target function's (or its version's, or alias's) own policy; $LATEST has the function's."""
        try:
            ref = self.arns.parse(arn)
        except FunctionsError:
            return None  # another account's or region's function: no policy of ours applies
        return self.policies.text(ref.name, None if ref.qualifier == LATEST else ref.qualifier)
