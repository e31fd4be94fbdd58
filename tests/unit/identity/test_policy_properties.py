"""Properties of the evaluator that hold for any policies: a deny never allows more, an allow never lifts an
explicit deny, neither the case of the action nor the order of the policies matters."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lambkin.identity.policy.document import Policy
from lambkin.identity.policy.evaluate import Effect, Question, evaluate
from tests.unit.identity.support import ACCOUNT, FN, OTHER, ROLE_ARN, allow, policy, session, user

MATEO = user("mateojackson")
OUTSIDER = user("zhang", OTHER)
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"

ACTIONS = ["lambda:GetFunction", "lambda:InvokeFunction", "sqs:SendMessage", "s3:GetObject"]
RESOURCES = [FN, f"{FN}:prod", QUEUE, "arn:aws:s3:::b/k", "*"]
ACTION_PATTERNS = [
    "*",
    "lambda:*",
    "lambda:Get*",
    "lambda:?nvokeFunction",
    "sqs:SendMessage",
    "s3:*",
    "iam:*",
]
RESOURCE_PATTERNS = [
    "*",
    FN,
    f"{FN}:*",
    "arn:aws:lambda:*:*:function:*",
    "arn:aws:sqs:*:*:*",
    "arn:aws:s3:::b/*",
]
CALLERS = [MATEO, session(), OUTSIDER]


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None, principal: bool = False) -> dict[str, object]:
    statement: dict[str, object] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    statement["NotAction" if draw(st.booleans()) and effect != "Allow" else "Action"] = actions
    resources = draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2))
    statement["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = resources
    if principal:
        statement["Principal"] = draw(
            st.sampled_from(["*", {"AWS": ACCOUNT}, {"AWS": MATEO.arn}, {"AWS": ROLE_ARN}, {"AWS": OTHER}])
        )
    return statement


identities = st.lists(st.lists(statements(), min_size=1, max_size=3).map(lambda s: policy(*s)), max_size=3)
resources = st.none() | st.lists(statements(principal=True), min_size=1, max_size=3).map(
    lambda s: policy(*s, kind="resource")
)
questions = st.builds(
    Question, st.sampled_from(CALLERS), st.sampled_from(ACTIONS), st.sampled_from(RESOURCES)
)


@given(questions, identities, resources, statements(effect="Deny"))
def test_adding_a_deny_never_allows_more(
    question: Question, identity: list[Policy], resource: Policy | None, extra: dict[str, object]
) -> None:
    before = evaluate(question, identity, resource)
    after = evaluate(question, [*identity, policy(extra)], resource)
    assert not after.allowed or before.allowed
    if before.effect is Effect.EXPLICIT_DENY:
        assert after.effect is Effect.EXPLICIT_DENY


@given(questions, identities, resources, statements(effect="Allow"))
def test_adding_an_allow_never_lifts_an_explicit_deny(
    question: Question, identity: list[Policy], resource: Policy | None, extra: dict[str, object]
) -> None:
    if evaluate(question, identity, resource).effect is Effect.EXPLICIT_DENY:
        assert evaluate(question, [policy(extra), *identity], resource).effect is Effect.EXPLICIT_DENY


@given(questions, identities, resources, st.randoms())
def test_action_case_and_policy_order_do_not_matter(
    question: Question, identity: list[Policy], resource: Policy | None, random: Any
) -> None:
    decision = evaluate(question, identity, resource)
    recased = "".join(c.upper() if random.random() < 0.5 else c.lower() for c in question.action)
    shuffled = random.sample(identity, len(identity))
    other = evaluate(Question(question.principal, recased, question.resource), shuffled, resource)
    assert other.effect is decision.effect


@given(questions, identities)
def test_an_allow_of_everything_without_denies_allows_within_the_account(
    question: Question, identity: list[Policy]
) -> None:
    allows_only = [p for p in identity if all(s.allow for s in p.statements)]
    decision = evaluate(question, [*allows_only, policy(allow("*"))])
    owner = question.resource.split(":")[4] if question.resource.startswith("arn:") else ""
    assert decision.allowed is (owner in ("", question.principal.account))
