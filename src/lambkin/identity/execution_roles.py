"""Whether a service may take on a role: the role exists and its trust policy lets the service assume it.
The control plane asks this of a function's Role for lambda.amazonaws.com (functions.service.RoleCheck),
Scheduler of a schedule's execution role for scheduler.amazonaws.com."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lambkin.identity.directory import Directory
from lambkin.identity.policy.document import MalformedPolicy, parse_policy
from lambkin.identity.policy.evaluate import Question, evaluate
from lambkin.identity.principals import Principal, service

LAMBDA = service("lambda.amazonaws.com")
SCHEDULER = service("scheduler.amazonaws.com")


def _trusts(
    directory: Directory, role_arn: str, principal: Principal, context: Mapping[str, str] | None = None
) -> bool:
    role = directory.role(role_arn)
    if role is None:
        return False
    try:
        trust = parse_policy(role.trust_policy, "trust")
    except MalformedPolicy:
        return False
    return evaluate(Question(principal, "sts:AssumeRole", role.arn, context or {}), (), trust).allowed


def lambda_can_assume(directory: Directory) -> Callable[[str], bool]:
    """A RoleCheck over the directory."""

    def check(role_arn: str) -> bool:
        return _trusts(directory, role_arn, LAMBDA)

    return check


def scheduler_can_assume(directory: Directory) -> Callable[[str, str], bool]:
    """Whether Scheduler may assume a schedule's execution role (role ARN, schedule ARN), the trust policy
    asked with aws:SourceArn and aws:SourceAccount, as Scheduler's own assume-role request carries them."""

    def check(role_arn: str, schedule_arn: str) -> bool:
        context = {"aws:SourceArn": schedule_arn, "aws:SourceAccount": schedule_arn.split(":")[4]}
        return _trusts(directory, role_arn, SCHEDULER, context)

    return check
