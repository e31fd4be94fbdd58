"""The Authorizer: the policy engine's answers for principals the IAM directory knows, from caches."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lambkin.identity.authorizer import Authorizer
from lambkin.identity.principals import Principal, root, service
from lambkin.testing.identity import FakeDirectory

ACCOUNT = "000000000000"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
USER = Principal("user", f"arn:aws:iam::{ACCOUNT}:user/dev", ACCOUNT, "AIDAEXAMPLE", "dev")
SESSION = Principal(
    "assumed-role", f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/s1", ACCOUNT, "AROAEXAMPLE:s1", "s1", ROLE
)
OTHER_SESSION = Principal(
    "assumed-role",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/other/s2",
    ACCOUNT,
    "AROAOTHER:s2",
    "s2",
    f"arn:aws:iam::{ACCOUNT}:role/other",
)


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_root_may_do_anything_and_nothing_is_read() -> None:
    directory = FakeDirectory()
    authorizer = Authorizer(directory, ACCOUNT)
    assert authorizer.refusal(root(ACCOUNT), "lambda:DeleteFunction", FUNCTION + "f") is None
    assert directory.reads == 0


def test_an_identity_policy_allows_what_it_names_and_nothing_else() -> None:
    directory = FakeDirectory()
    directory.attach(USER.arn, document(allow("lambda:GetFunction", FUNCTION + "mine")))
    authorizer = Authorizer(directory, ACCOUNT)
    assert authorizer.refusal(USER, "lambda:GetFunction", FUNCTION + "mine") is None
    assert authorizer.refusal(USER, "lambda:GetFunction", FUNCTION + "theirs") == (
        f"User: {USER.arn} is not authorized to perform: lambda:GetFunction on resource: {FUNCTION}theirs "
        "because no identity-based policy allows the lambda:GetFunction action"
    )


def test_an_explicit_deny_beats_an_allow() -> None:
    directory = FakeDirectory()
    directory.attach(ROLE, document(allow("lambda:*", "*")))
    directory.attach(ROLE, document(deny("lambda:DeleteFunction", FUNCTION + "*")))
    authorizer = Authorizer(directory, ACCOUNT)
    assert authorizer.refusal(SESSION, "lambda:GetFunction", FUNCTION + "f") is None
    assert authorizer.refusal(SESSION, "lambda:DeleteFunction", FUNCTION + "f") == (
        f"User: {SESSION.arn} is not authorized to perform: lambda:DeleteFunction on resource: {FUNCTION}f "
        "with an explicit deny in an identity-based policy"
    )


def test_a_function_policy_lets_another_role_invoke_and_its_removal_takes_it_back() -> None:
    authorizer = Authorizer(FakeDirectory(), ACCOUNT)
    granted = document(
        {
            "Sid": "other",
            "Effect": "Allow",
            "Principal": {"AWS": OTHER_SESSION.role_arn},
            "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION + "f",
        }
    )
    assert authorizer.refusal(OTHER_SESSION, "lambda:InvokeFunction", FUNCTION + "f", granted) is None
    assert authorizer.refusal(SESSION, "lambda:InvokeFunction", FUNCTION + "f", granted) is not None
    revoked = document(
        {
            "Sid": "x",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:GetPolicy",
            "Resource": FUNCTION + "f",
        }
    )
    assert authorizer.refusal(OTHER_SESSION, "lambda:InvokeFunction", FUNCTION + "f", revoked) is not None


def test_a_service_is_allowed_by_a_resource_policy_only_for_its_source() -> None:
    authorizer = Authorizer(FakeDirectory(), ACCOUNT)
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/nightly"
    policy = document(
        {
            "Sid": "events",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": FUNCTION + "f",
            "Condition": {"ArnLike": {"AWS:SourceArn": rule}},
        }
    )
    events = service("events.amazonaws.com")
    keys = (("aws:SourceArn", rule),)
    assert authorizer.refusal(events, "lambda:InvokeFunction", FUNCTION + "f", policy, keys) is None
    other = (("aws:SourceArn", rule + "-other"),)
    assert authorizer.refusal(events, "lambda:InvokeFunction", FUNCTION + "f", policy, other) is not None
    assert authorizer.refusal(events, "lambda:InvokeFunction", FUNCTION + "f", None, keys) is not None


def test_decisions_are_kept_until_iam_changes() -> None:
    directory = FakeDirectory()
    for number in range(10):
        directory.attach(ROLE, document(allow(f"sqs:Action{number}", "*")))
    directory.attach(ROLE, document(allow("lambda:InvokeFunction", FUNCTION + "*")))
    authorizer = Authorizer(directory, ACCOUNT)
    for _ in range(100):
        assert authorizer.refusal(SESSION, "lambda:InvokeFunction", FUNCTION + "f") is None
    assert directory.reads == 1
    directory.policies[ROLE] = [document(deny("lambda:*", "*"))]
    directory.generation += 1
    assert authorizer.refusal(SESSION, "lambda:InvokeFunction", FUNCTION + "f") is not None
    assert directory.reads == 2


def test_a_policy_that_reads_the_clock_is_asked_every_time() -> None:
    directory = FakeDirectory()
    clock = Clock()
    until = (clock.now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    directory.attach(
        USER.arn,
        document(allow("lambda:ListFunctions", "*", Condition={"DateLessThan": {"aws:CurrentTime": until}})),
    )
    authorizer = Authorizer(directory, ACCOUNT, now=clock)
    assert authorizer.refusal(USER, "lambda:ListFunctions", "*") is None
    clock.now += timedelta(minutes=10)
    assert authorizer.refusal(USER, "lambda:ListFunctions", "*") is not None


def test_the_source_ip_decides_where_a_policy_asks_for_it() -> None:
    directory = FakeDirectory()
    directory.attach(
        USER.arn,
        document(allow("sqs:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    )
    authorizer = Authorizer(directory, ACCOUNT)
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    assert authorizer.refusal(USER, "sqs:SendMessage", queue, source_ip="10.1.2.3") is None
    assert authorizer.refusal(USER, "sqs:SendMessage", queue, source_ip="127.0.0.1") is not None
    assert authorizer.refusal(USER, "sqs:SendMessage", queue, source_ip="10.1.2.3") is None


def test_a_resource_policy_the_engine_refuses_counts_as_none() -> None:
    directory = FakeDirectory()
    directory.attach(USER.arn, document(allow("sqs:SendMessage", "*")))
    authorizer = Authorizer(directory, ACCOUNT)
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    assert authorizer.refusal(USER, "sqs:SendMessage", queue, '{"Statement": "nonsense"}') is None
    assert authorizer.refusal(USER, "sqs:ReceiveMessage", queue, '{"Statement": "nonsense"}') is not None


def test_sessions_that_share_an_arn_are_decided_each_by_its_own_caps() -> None:
    directory = FakeDirectory()
    directory.attach(ROLE, document(allow("lambda:*", "*")))
    directory.managed["arn:aws:iam::aws:policy/ReadFunctions"] = document(allow("lambda:Get*", "*"))
    authorizer = Authorizer(directory, ACCOUNT)
    narrowed = replace(SESSION, session_policy=document(allow("sqs:*", "*")))
    by_arn = replace(SESSION, session_policy_arns=("arn:aws:iam::aws:policy/ReadFunctions",))

    assert authorizer.refusal(SESSION, "lambda:DeleteFunction", FUNCTION + "f") is None
    assert authorizer.refusal(narrowed, "lambda:DeleteFunction", FUNCTION + "f") == (
        f"User: {SESSION.arn} is not authorized to perform: lambda:DeleteFunction on resource: {FUNCTION}f "
        "because no session policy allows the lambda:DeleteFunction action"
    )
    assert authorizer.refusal(by_arn, "lambda:GetFunction", FUNCTION + "f") is None
    assert authorizer.refusal(by_arn, "lambda:DeleteFunction", FUNCTION + "f") is not None
    assert authorizer.refusal(SESSION, "lambda:DeleteFunction", FUNCTION + "f") is None  # still its own


def test_a_boundary_caps_and_one_whose_policy_is_unreadable_allows_nothing() -> None:
    directory = FakeDirectory()
    directory.attach(USER.arn, document(allow("lambda:*", "*")))
    directory.boundaries[USER.arn] = document(allow("lambda:Get*", "*"))
    authorizer = Authorizer(directory, ACCOUNT)
    assert authorizer.refusal(USER, "lambda:GetFunction", FUNCTION + "f") is None
    assert authorizer.refusal(USER, "lambda:DeleteFunction", FUNCTION + "f") is not None
    directory.boundaries[USER.arn] = ""
    directory.generation += 1
    assert authorizer.refusal(USER, "lambda:GetFunction", FUNCTION + "f") is not None
