"""The Principal element: everyone, accounts (delegation), users, roles and their sessions, services;
NotPrincipal excludes a caller only when its account and each identity it acts as are all listed."""

from __future__ import annotations

import pytest

from lambkin.identity.policy.evaluate import Effect, Question, evaluate
from lambkin.identity.policy.principal_element import InvalidPrincipal, Reach, compile_principal
from lambkin.identity.principals import Principal, root, service
from tests.unit.identity.support import ACCOUNT, FN, OTHER, ROLE_ARN, allow, deny, policy, session, user

ALICE = user("alice")
APP = session()
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"


@pytest.mark.parametrize(
    ("element", "caller", "reach"),
    [
        ("*", ALICE, Reach.DIRECT),
        ("*", service("events.amazonaws.com"), Reach.DIRECT),
        ({"AWS": "*"}, APP, Reach.DIRECT),
        ({"AWS": "*"}, service("events.amazonaws.com"), Reach.NONE),
        ({"AWS": ACCOUNT}, ALICE, Reach.ACCOUNT),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, APP, Reach.ACCOUNT),
        ({"AWS": ACCOUNT}, root(ACCOUNT), Reach.DIRECT),
        ({"AWS": OTHER}, ALICE, Reach.NONE),
        ({"AWS": ALICE.arn}, ALICE, Reach.EXACT),
        ({"AWS": [user("bob").arn, ALICE.arn]}, ALICE, Reach.EXACT),
        ({"AWS": user("bob").arn}, ALICE, Reach.NONE),
        ({"AWS": ROLE_ARN}, APP, Reach.DIRECT),
        ({"AWS": ROLE_ARN}, session(f"arn:aws:iam::{ACCOUNT}:role/other"), Reach.NONE),
        ({"AWS": APP.arn}, APP, Reach.EXACT),
        ({"AWS": APP.arn}, session(name="s2"), Reach.NONE),
        ({"AWS": "AROAEXAMPLEROLEID0001"}, APP, Reach.DIRECT),  # a deleted role's unique ID, as IAM shows it
        ({"Service": "lambda.amazonaws.com"}, service("lambda.amazonaws.com"), Reach.DIRECT),
        ({"Service": ["s3.amazonaws.com"]}, service("lambda.amazonaws.com"), Reach.NONE),
        ({"Service": "lambda.amazonaws.com"}, ALICE, Reach.NONE),
        ({"Federated": "cognito-identity.amazonaws.com"}, ALICE, Reach.NONE),
    ],
)
def test_reach(element: object, caller: Principal, reach: Reach) -> None:
    assert compile_principal(element).reach(caller) is reach


@pytest.mark.parametrize(
    "value",
    ["arn:aws:iam::123456789012:user/*", "alice", "arn:aws:s3:::bucket", "12345", "arn:aws:iam::*:root"],
)
def test_partial_wildcards_and_non_principals_are_invalid(value: str) -> None:
    with pytest.raises(InvalidPrincipal) as caught:
        compile_principal({"AWS": value})
    assert str(caught.value) == f'"AWS":"{value}"'


def not_principal(*names: str) -> dict[str, object]:
    return {"Effect": "Deny", "NotPrincipal": {"AWS": list(names)}, "Action": "sqs:*", "Resource": QUEUE}


def test_not_principal_with_deny_spares_only_a_fully_listed_caller() -> None:
    account = f"arn:aws:iam::{ACCOUNT}:root"
    fenced = policy(
        allow("sqs:*", QUEUE, Principal="*"), not_principal(APP.arn, ROLE_ARN, account), kind="resource"
    )
    assert evaluate(Question(APP, "sqs:SendMessage", QUEUE), [], fenced).allowed
    for other in (session(name="s2"), ALICE):
        assert evaluate(Question(other, "sqs:SendMessage", QUEUE), [], fenced).effect is Effect.EXPLICIT_DENY
    no_account = policy(
        allow("sqs:*", QUEUE, Principal="*"), not_principal(APP.arn, ROLE_ARN), kind="resource"
    )
    assert evaluate(Question(APP, "sqs:SendMessage", QUEUE), [], no_account).effect is Effect.EXPLICIT_DENY


def test_a_deny_naming_the_account_reaches_everyone_in_it() -> None:
    fence = policy(deny("lambda:*", FN, Principal={"AWS": ACCOUNT}), kind="resource")
    decision = evaluate(Question(ALICE, "lambda:GetFunction", FN), [policy(allow("*"))], fence)
    assert decision.effect is Effect.EXPLICIT_DENY
