"""The evaluator against a table of AWS's documented evaluation examples.

The table follows the IAM User Guide: "Policy evaluation for requests within a single account" (Carlos and
his buckets), "Determining whether a request is allowed or denied" (explicit deny wins; a same-account
resource-based policy that names the caller allows alone, one naming the account delegates), cross-account
access (both must allow), role trust policies (must allow even within the account), NotAction with Deny,
wildcards, conditions and service principals with aws:SourceArn / aws:SourceAccount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from lambkin.identity.policy.document import Policy
from lambkin.identity.policy.evaluate import Decision, Effect, Question, evaluate
from lambkin.identity.principals import Principal, root, service
from tests.unit.identity.support import ACCOUNT, FN, OTHER, ROLE_ARN, allow, deny, policy, session, user

CARLOS = user("carlossalazar")
MATEO = user("mateojackson")
OUTSIDER = user("zhang", OTHER)
SELF_BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar"
LOGS_BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket-carlossalazar-logs"
CARLOS_POLICY = policy(
    allow(
        [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "arn:aws:s3:::*",
        Sid="AllowS3ListRead",
    ),
    allow("s3:*", [f"{SELF_BUCKET}/*", SELF_BUCKET], Sid="AllowS3Self"),
    deny("s3:*", "arn:aws:s3:::*log*", Sid="DenyS3Logs"),
)
BUCKET_POLICY = policy(
    allow("s3:*", [SELF_BUCKET, f"{SELF_BUCKET}/*"], Principal={"AWS": CARLOS.arn}), kind="resource"
)
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/target"


def resource_policy(*statements: dict[str, object]) -> Policy:
    return policy(*statements, kind="resource")


def trust(principal: object) -> Policy:
    return policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}, kind="trust")


ALLOW_ID = Decision(Effect.ALLOW, "identity-based")
ALLOW_RES = Decision(Effect.ALLOW, "resource-based")
DENY_ID = Decision(Effect.EXPLICIT_DENY, "identity-based")
DENY_RES = Decision(Effect.EXPLICIT_DENY, "resource-based")
NO_ID = Decision(Effect.IMPLICIT_DENY, "identity-based")
NO_RES = Decision(Effect.IMPLICIT_DENY, "resource-based")


@dataclass(frozen=True)
class Case:
    name: str
    principal: Principal
    action: str
    resource: str
    identity: tuple[Policy, ...] = ()
    resource_policy: Policy | None = None
    context: dict[str, Any] = field(default_factory=dict)
    expected: Decision = NO_ID


INVOKE_FROM_BUCKET = resource_policy(
    allow(
        "lambda:InvokeFunction",
        FN,
        Principal={"Service": "s3.amazonaws.com"},
        Condition={
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
    )
)

CASES = [
    # Policy evaluation for requests within a single account: Carlos
    Case(
        "carlos saves to the logs bucket: DenyS3Logs wins",
        CARLOS,
        "s3:PutObject",
        f"{LOGS_BUCKET}/f.txt",
        (CARLOS_POLICY,),
        BUCKET_POLICY,
        expected=DENY_ID,
    ),
    Case(
        "carlos saves to his bucket",
        CARLOS,
        "s3:PutObject",
        f"{SELF_BUCKET}/f.txt",
        (CARLOS_POLICY,),
        BUCKET_POLICY,
        expected=ALLOW_RES,
    ),
    Case(
        "carlos lists buckets",
        CARLOS,
        "s3:ListAllMyBuckets",
        "arn:aws:s3:::any",
        (CARLOS_POLICY,),
        expected=ALLOW_ID,
    ),
    Case(
        "carlos may not delete another bucket",
        CARLOS,
        "s3:DeleteBucket",
        "arn:aws:s3:::other",
        (CARLOS_POLICY,),
        expected=NO_ID,
    ),
    Case(
        "the bucket policy alone lets carlos in",
        CARLOS,
        "s3:GetObject",
        f"{SELF_BUCKET}/f.txt",
        (),
        BUCKET_POLICY,
        expected=ALLOW_RES,
    ),
    Case(
        "the bucket policy names only carlos",
        MATEO,
        "s3:GetObject",
        f"{SELF_BUCKET}/f.txt",
        (),
        BUCKET_POLICY,
        expected=NO_ID,
    ),
    # Same account: a resource policy naming the account delegates; one naming the caller suffices
    Case(
        "account principal, no identity allow",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
        expected=NO_ID,
    ),
    Case(
        "account principal (bare ID) with an identity allow",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (policy(allow("sqs:*")),),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal={"AWS": ACCOUNT})),
        expected=ALLOW_RES,
    ),
    Case(
        "identity allow, no resource policy",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (policy(allow("sqs:*")),),
        expected=ALLOW_ID,
    ),
    Case(
        "a role ARN names its sessions",
        session(),
        "sqs:SendMessage",
        QUEUE,
        (),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal={"AWS": ROLE_ARN})),
        expected=ALLOW_RES,
    ),
    Case(
        "a session ARN names the session",
        session(name="s2"),
        "sqs:SendMessage",
        QUEUE,
        (),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal={"AWS": session().arn})),
        expected=NO_ID,
    ),
    Case(
        "Principal * lets any caller in",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal="*")),
        expected=ALLOW_RES,
    ),
    Case(
        "a resource-based deny beats an identity allow",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (policy(allow("*")),),
        resource_policy(deny("sqs:*", QUEUE, Principal={"AWS": ACCOUNT})),
        expected=DENY_RES,
    ),
    Case(
        "an identity deny beats a resource allow",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (policy(deny("sqs:SendMessage")),),
        resource_policy(allow("sqs:*", QUEUE, Principal={"AWS": MATEO.arn})),
        expected=DENY_ID,
    ),
    # Cross-account: both must allow
    Case(
        "cross-account with both",
        OUTSIDER,
        "sqs:SendMessage",
        QUEUE,
        (policy(allow("sqs:SendMessage", QUEUE)),),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal={"AWS": OTHER})),
        expected=ALLOW_RES,
    ),
    Case(
        "cross-account without the resource policy",
        OUTSIDER,
        "sqs:SendMessage",
        QUEUE,
        (policy(allow("sqs:SendMessage", QUEUE)),),
        expected=NO_RES,
    ),
    Case(
        "cross-account without the identity policy",
        OUTSIDER,
        "sqs:SendMessage",
        QUEUE,
        (),
        resource_policy(allow("sqs:SendMessage", QUEUE, Principal={"AWS": OUTSIDER.arn})),
        expected=NO_ID,
    ),
    # Role trust policies must allow, even within the account
    Case(
        "lambda assumes its execution role",
        service("lambda.amazonaws.com"),
        "sts:AssumeRole",
        ROLE,
        (),
        trust({"Service": "lambda.amazonaws.com"}),
        expected=ALLOW_RES,
    ),
    Case(
        "an admin cannot assume a role that trusts only lambda",
        MATEO,
        "sts:AssumeRole",
        ROLE,
        (policy(allow("*")),),
        trust({"Service": "lambda.amazonaws.com"}),
        expected=NO_RES,
    ),
    Case(
        "a trust policy naming the user allows alone",
        MATEO,
        "sts:AssumeRole",
        ROLE,
        (),
        trust({"AWS": MATEO.arn}),
        expected=ALLOW_RES,
    ),
    Case(
        "a trust policy naming the account needs an identity allow",
        MATEO,
        "sts:AssumeRole",
        ROLE,
        (),
        trust({"AWS": ACCOUNT}),
        expected=NO_ID,
    ),
    Case(
        "a trust policy naming the account, with the identity allow",
        MATEO,
        "sts:AssumeRole",
        ROLE,
        (policy(allow("sts:AssumeRole", ROLE)),),
        trust({"AWS": ACCOUNT}),
        expected=ALLOW_RES,
    ),
    # NotAction with Deny, NotResource, wildcards
    Case(
        "Deny NotAction iam:* denies lambda",
        MATEO,
        "lambda:GetFunction",
        FN,
        (policy(allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}),),
        expected=DENY_ID,
    ),
    Case(
        "Deny NotAction iam:* leaves iam alone",
        MATEO,
        "iam:ListUsers",
        "*",
        (policy(allow("*"), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}),),
        expected=ALLOW_ID,
    ),
    Case(
        "Allow NotResource",
        MATEO,
        "lambda:GetFunction",
        FN,
        (policy({"Effect": "Allow", "Action": "lambda:*", "NotResource": f"{FN}-secret"}),),
        expected=ALLOW_ID,
    ),
    Case(
        "Allow NotResource excludes",
        MATEO,
        "lambda:GetFunction",
        f"{FN}-secret",
        (policy({"Effect": "Allow", "Action": "lambda:*", "NotResource": f"{FN}-secret"}),),
        expected=NO_ID,
    ),
    Case(
        "a qualified ARN needs function:name:*",
        MATEO,
        "lambda:InvokeFunction",
        f"{FN}:prod",
        (policy(allow("lambda:InvokeFunction", FN)),),
        expected=NO_ID,
    ),
    Case(
        "function:name:* covers qualifiers",
        MATEO,
        "lambda:InvokeFunction",
        f"{FN}:prod",
        (policy(allow("lambda:InvokeFunction", f"{FN}:*")),),
        expected=ALLOW_ID,
    ),
    Case(
        "unknown actions never match",
        MATEO,
        "lambda:GetFunction",
        FN,
        (policy(allow("lambda:GetFunctionn")),),
        expected=NO_ID,
    ),
    Case(
        "${aws:username} scopes to the user",
        CARLOS,
        "s3:GetObject",
        "arn:aws:s3:::home/carlossalazar/a",
        (policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*")),),
        expected=ALLOW_ID,
    ),
    Case(
        "${aws:username} is not another user",
        MATEO,
        "s3:GetObject",
        "arn:aws:s3:::home/carlossalazar/a",
        (policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*")),),
        expected=NO_ID,
    ),
    # Conditions
    Case(
        "deny outside an address range",
        MATEO,
        "lambda:GetFunction",
        FN,
        (
            policy(
                allow("*"),
                deny("*", Condition={"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}),
            ),
        ),
        context={"aws:SourceIp": "203.0.113.9"},
        expected=DENY_ID,
    ),
    Case(
        "allowed inside the range",
        MATEO,
        "lambda:GetFunction",
        FN,
        (
            policy(
                allow("*"),
                deny("*", Condition={"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}),
            ),
        ),
        context={"aws:SourceIp": "2001:db8::7"},
        expected=ALLOW_ID,
    ),
    Case(
        "deny insecure transport",
        MATEO,
        "sqs:SendMessage",
        QUEUE,
        (policy(allow("*"), deny("*", Condition={"Bool": {"aws:SecureTransport": "false"}})),),
        context={"aws:SecureTransport": "false"},
        expected=DENY_ID,
    ),
    Case(
        "a service invokes with the right source",
        service("s3.amazonaws.com"),
        "lambda:InvokeFunction",
        FN,
        (),
        INVOKE_FROM_BUCKET,
        context={"aws:SourceArn": "arn:aws:s3:::uploads", "aws:SourceAccount": ACCOUNT},
        expected=ALLOW_RES,
    ),
    Case(
        "a service invokes for another bucket",
        service("s3.amazonaws.com"),
        "lambda:InvokeFunction",
        FN,
        (),
        INVOKE_FROM_BUCKET,
        context={"aws:SourceArn": "arn:aws:s3:::elsewhere", "aws:SourceAccount": ACCOUNT},
        expected=NO_RES,
    ),
    Case(
        "a service invokes without a source",
        service("s3.amazonaws.com"),
        "lambda:InvokeFunction",
        FN,
        (),
        INVOKE_FROM_BUCKET,
        expected=NO_RES,
    ),
    Case(
        "aws:PrincipalArn of a session is its role",
        session(),
        "sqs:SendMessage",
        QUEUE,
        (),
        resource_policy(
            allow("sqs:*", QUEUE, Principal="*", Condition={"ArnEquals": {"aws:PrincipalArn": ROLE_ARN}})
        ),
        expected=ALLOW_RES,
    ),
    Case("the root is allowed by default", root(ACCOUNT), "lambda:DeleteFunction", FN, expected=ALLOW_ID),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_documented_examples(case: Case) -> None:
    question = Question(case.principal, case.action, case.resource, case.context)
    decision = evaluate(question, case.identity, case.resource_policy)
    assert (decision.effect, decision.policy_type) == (case.expected.effect, case.expected.policy_type)
