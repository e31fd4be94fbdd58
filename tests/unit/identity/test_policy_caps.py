"""Permissions boundaries and session policies: they only cap, each must allow too, and a resource-based
policy that names the caller's own ARN is the one grant they do not limit (IAM's evaluation logic)."""

from __future__ import annotations

from lambkin.identity.policy.evaluate import Decision, Effect, Question, denied_message, evaluate
from tests.unit.identity.support import ACCOUNT, FN, ROLE_ARN, allow, deny, policy, session, user

ALICE = user("alice")
APP = session()
EVERYTHING = [policy(allow("lambda:*"))]
READS = policy(allow("lambda:Get*"))


def test_a_boundary_caps_what_identity_policies_grant() -> None:
    read = Question(ALICE, "lambda:GetFunction", FN)
    delete = Question(ALICE, "lambda:DeleteFunction", FN)
    assert evaluate(read, EVERYTHING, boundary=[READS]).allowed
    capped = evaluate(delete, EVERYTHING, boundary=[READS])
    assert capped == Decision(Effect.IMPLICIT_DENY, "permissions boundary")
    assert denied_message(delete, capped).endswith(
        "because no permissions boundary allows the lambda:DeleteFunction action"
    )
    assert not evaluate(delete, [], boundary=[policy(allow("lambda:*"))]).allowed  # a boundary never grants


def test_session_policies_cap_a_roles_session() -> None:
    read = Question(APP, "lambda:GetFunction", FN)
    delete = Question(APP, "lambda:DeleteFunction", FN)
    assert evaluate(read, EVERYTHING, session=[READS]).allowed
    assert evaluate(delete, EVERYTHING, session=[READS]) == Decision(Effect.IMPLICIT_DENY, "session")
    assert not evaluate(read, EVERYTHING, session=[]).allowed  # passed, but allowing nothing
    assert evaluate(delete, EVERYTHING, session=[READS, policy(allow("lambda:Delete*"))]).allowed


def test_an_explicit_deny_in_a_cap_is_named() -> None:
    question = Question(APP, "lambda:GetFunction", FN)
    in_boundary = evaluate(question, EVERYTHING, boundary=[policy(allow("*"), deny("lambda:Get*", Sid="B"))])
    assert in_boundary == Decision(Effect.EXPLICIT_DENY, "permissions boundary", "B")
    assert denied_message(question, in_boundary).endswith("with an explicit deny in a permissions boundary")
    in_session = evaluate(question, EVERYTHING, session=[policy(deny("*"))])
    assert denied_message(question, in_session).endswith("with an explicit deny in a session policy")


def test_a_resource_policy_naming_the_caller_itself_is_not_capped() -> None:
    question = Question(APP, "lambda:InvokeFunction", FN)
    by_session = policy(allow("lambda:InvokeFunction", FN, Principal={"AWS": APP.arn}), kind="resource")
    by_role = policy(allow("lambda:InvokeFunction", FN, Principal={"AWS": ROLE_ARN}), kind="resource")
    by_everyone = policy(allow("lambda:InvokeFunction", FN, Principal="*"), kind="resource")
    assert evaluate(question, [], by_session, session=[READS], boundary=[READS]).allowed
    assert evaluate(question, [], by_role, session=[READS]) == Decision(Effect.IMPLICIT_DENY, "session")
    assert evaluate(question, [], by_role, boundary=[READS]) == Decision(
        Effect.IMPLICIT_DENY, "permissions boundary"
    )
    assert not evaluate(question, [], by_everyone, boundary=[READS]).allowed
    assert evaluate(question, [], by_role).allowed  # uncapped, the role's grant suffices
    by_user = policy(allow("lambda:InvokeFunction", FN, Principal={"AWS": ALICE.arn}), kind="resource")
    assert evaluate(Question(ALICE, "lambda:InvokeFunction", FN), [], by_user, boundary=[READS]).allowed


def test_an_explicit_deny_in_the_resource_policy_still_wins_over_an_exact_grant() -> None:
    question = Question(APP, "lambda:InvokeFunction", FN)
    both = policy(
        allow("lambda:InvokeFunction", FN, Principal={"AWS": APP.arn}),
        deny("lambda:InvokeFunction", FN, Principal={"AWS": ROLE_ARN}),
        kind="resource",
    )
    assert evaluate(question, EVERYTHING, both).effect is Effect.EXPLICIT_DENY


def test_across_accounts_the_caps_apply_to_the_callers_side() -> None:
    foreign = f"arn:aws:lambda:us-east-1:999988887777:function:{ACCOUNT}"
    question = Question(APP, "lambda:InvokeFunction", foreign)
    grant = policy(allow("lambda:InvokeFunction", foreign, Principal={"AWS": APP.arn}), kind="resource")
    assert evaluate(question, EVERYTHING, grant).allowed
    assert not evaluate(question, EVERYTHING, grant, session=[READS]).allowed
