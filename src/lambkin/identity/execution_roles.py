"""Whether Lambda may take on a role: the role exists and its trust policy lets lambda.amazonaws.com assume
it. The control plane asks this of a function's Role (functions.service.RoleCheck)."""

from __future__ import annotations

from collections.abc import Callable

from lambkin.identity.directory import Directory
from lambkin.identity.policy.document import MalformedPolicy, parse_policy
from lambkin.identity.policy.evaluate import Question, evaluate
from lambkin.identity.principals import service

LAMBDA = service("lambda.amazonaws.com")


def lambda_can_assume(directory: Directory) -> Callable[[str], bool]:
    """A RoleCheck over the directory."""

    def check(role_arn: str) -> bool:
        role = directory.role(role_arn)
        if role is None:
            return False
        try:
            trust = parse_policy(role.trust_policy, "trust")
        except MalformedPolicy:
            return False
        return evaluate(Question(LAMBDA, "sts:AssumeRole", role.arn), (), trust).allowed

    return check
