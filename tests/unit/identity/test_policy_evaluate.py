"""The decision and its message: deny wins, identity or resource allows, the root, services, the context."""

from __future__ import annotations

from datetime import UTC, datetime

from lambkin.identity.policy.evaluate import (
    Decision,
    Effect,
    Question,
    denied_message,
    evaluate,
    request_context,
)
from lambkin.identity.principals import root, service
from tests.unit.identity.support import ACCOUNT, FN, ROLE_ARN, allow, deny, policy, session, user

ALICE = user("alice")


def test_nothing_allows_by_default() -> None:
    decision = evaluate(Question(ALICE, "lambda:GetFunction", FN), [])
    assert decision == Decision(Effect.IMPLICIT_DENY, "identity-based")
    assert not decision.allowed


def test_an_identity_allow_allows_and_a_deny_anywhere_wins() -> None:
    question = Question(ALICE, "lambda:GetFunction", FN)
    assert evaluate(question, [policy(allow("lambda:*"))]).allowed
    denied = evaluate(question, [policy(allow("lambda:*")), policy(deny("lambda:Get*", Sid="NoReads"))])
    assert denied == Decision(Effect.EXPLICIT_DENY, "identity-based", "NoReads")


def test_messages_word_the_policy_type_as_aws_does() -> None:
    question = Question(ALICE, "lambda:GetFunction", FN)
    start = f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: lambda:GetFunction on resource: {FN}"
    implicit = denied_message(question, Decision(Effect.IMPLICIT_DENY, "identity-based"))
    assert implicit == f"{start} because no identity-based policy allows the lambda:GetFunction action"
    explicit = denied_message(question, Decision(Effect.EXPLICIT_DENY, "identity-based"))
    assert explicit == f"{start} with an explicit deny in an identity-based policy"
    resource_deny = denied_message(question, Decision(Effect.EXPLICIT_DENY, "resource-based"))
    assert resource_deny == f"{start} with an explicit deny in a resource-based policy"
    resource_implicit = denied_message(question, Decision(Effect.IMPLICIT_DENY, "resource-based"))
    assert (
        resource_implicit == f"{start} because no resource-based policy allows the lambda:GetFunction action"
    )


def test_a_session_is_named_by_its_session_arn() -> None:
    caller = session()
    message = denied_message(
        Question(caller, "sqs:SendMessage", "*"), evaluate(Question(caller, "sqs:SendMessage", "*"), [])
    )
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app-role/s1 is not authorized")


def test_the_root_may_do_anything_but_what_a_resource_policy_denies_it() -> None:
    owner = root(ACCOUNT)
    assert evaluate(Question(owner, "lambda:DeleteFunction", FN), []).allowed
    fence = policy(deny("lambda:*", FN, Principal={"AWS": ACCOUNT}), kind="resource")
    assert evaluate(Question(owner, "lambda:DeleteFunction", FN), [], fence).effect is Effect.EXPLICIT_DENY


def test_a_service_needs_a_resource_policy_naming_it() -> None:
    events = service("events.amazonaws.com")
    question = Question(events, "lambda:InvokeFunction", FN)
    assert evaluate(question, [policy(allow("*"))]) == Decision(Effect.IMPLICIT_DENY, "resource-based")
    grant = policy(
        allow("lambda:InvokeFunction", FN, Principal={"Service": "events.amazonaws.com"}), kind="resource"
    )
    assert evaluate(question, [], grant).allowed
    other = policy(
        allow("lambda:InvokeFunction", FN, Principal={"Service": "s3.amazonaws.com"}), kind="resource"
    )
    assert not evaluate(question, [], other).allowed
    everyone = policy(allow("lambda:InvokeFunction", FN, Principal="*"), kind="resource")
    assert evaluate(question, [], everyone).allowed
    aws_only = policy(allow("lambda:InvokeFunction", FN, Principal={"AWS": "*"}), kind="resource")
    assert not evaluate(question, [], aws_only).allowed


def test_the_principal_keys_come_from_the_principal_not_the_caller() -> None:
    forged = Question(
        session(),
        "s3:GetObject",
        "*",
        {"aws:PrincipalArn": "arn:aws:iam::1:root", "aws:SourceIp": "10.0.0.1"},
    )
    context = request_context(forged)
    assert context["aws:principalarn"] == (ROLE_ARN,)
    assert context["aws:principaltype"] == ("AssumedRole",)
    assert context["aws:principalaccount"] == (ACCOUNT,)
    assert context["aws:userid"] == ("AROAEXAMPLEROLEID0001:s1",)
    assert context["aws:sourceip"] == ("10.0.0.1",)
    assert "aws:username" not in context
    assert request_context(Question(ALICE, "s3:GetObject", "*"))["aws:username"] == ("alice",)
    assert request_context(Question(root(ACCOUNT), "s3:GetObject", "*"))["aws:principaltype"] == ("Account",)


def test_now_fills_the_time_keys() -> None:
    now = datetime(2026, 12, 5, 7, 45, tzinfo=UTC)
    context = request_context(Question(ALICE, "s3:GetObject", "*", now=now))
    assert context["aws:currenttime"] == ("2026-12-05T07:45:00Z",)
    assert context["aws:epochtime"] == (str(int(now.timestamp())),)
    until = policy(allow("s3:*", Condition={"DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}}))
    assert evaluate(Question(ALICE, "s3:GetObject", "*", now=now), [until]).allowed
    assert not evaluate(Question(ALICE, "s3:GetObject", "*", now=now.replace(year=2027)), [until]).allowed
    assert not evaluate(Question(ALICE, "s3:GetObject", "*"), [until]).allowed  # no time, no match


def test_multivalued_context_values() -> None:
    tagged = policy(allow("s3:*", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}))
    assert evaluate(Question(ALICE, "s3:PutObject", "*", {"aws:TagKeys": ["env"]}), [tagged]).allowed
    assert not evaluate(
        Question(ALICE, "s3:PutObject", "*", {"aws:TagKeys": ["env", "cost"]}), [tagged]
    ).allowed
