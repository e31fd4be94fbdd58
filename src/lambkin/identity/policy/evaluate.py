"""The decision: may this principal do this action on this resource, given its policies and the resource's?

AWS's evaluation logic within an account: an explicit Deny in any policy wins; otherwise an Allow in an
identity-based policy or in the resource-based policy allows. A resource-based Allow suffices alone only when it
names the caller itself (its ARN, its role, its service, or everyone); one that names the caller's account only
delegates, so the caller's identity-based policies must allow as well. Across accounts both must allow. A role's
trust policy is the exception AWS documents: it must allow AssumeRole even within the account. The account root
is allowed everything its account owns unless a policy denies it explicitly; a service principal only by a
resource-based policy that names it. Nothing else allows: the default is an implicit deny.

Two more kinds of policy only cap: a user's or role's permissions boundary, and the session policies passed to
AssumeRole. Each must allow too (an intersection), whether the identity-based or the resource-based policy
granted, except where a resource-based policy names the caller's very own ARN (the user, or the role session):
that grant is not limited by them. One naming the role (every session of it), or everyone, is.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Literal

from lambkin.identity.policy.document import Policy, Statement
from lambkin.identity.policy.matching import Context
from lambkin.identity.policy.principal_element import Reach
from lambkin.identity.principals import Principal

PolicyType = Literal["identity-based", "resource-based", "permissions boundary", "session"]
_NOUNS: dict[PolicyType, str] = {
    "identity-based": "an identity-based policy",
    "resource-based": "a resource-based policy",
    "permissions boundary": "a permissions boundary",
    "session": "a session policy",
}


class Effect(Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class Question:
    """Who asks to do what on which resource. `context`: the request's condition keys the caller knows
    (aws:SourceArn, aws:SourceAccount, aws:SourceIp, aws:SecureTransport, ...; keys case-insensitive); the
    principal's own keys (aws:PrincipalArn, aws:userid, ...) are added here, and aws:CurrentTime and
    aws:EpochTime from `now` when given."""

    principal: Principal
    action: str  # "lambda:GetFunction"
    resource: str  # an ARN, or "*" for actions without a resource
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer. `policy_type` says which kind of policy decided a deny (for the message) or allowed;
    `sid` the deciding statement's Sid, when there is one statement to blame."""

    effect: Effect
    policy_type: PolicyType | None = None
    sid: str = ""

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW


def evaluate(
    question: Question,
    identity: Sequence[Policy],
    resource: Policy | None = None,
    *,
    boundary: Sequence[Policy] | None = None,
    session: Sequence[Policy] | None = None,
) -> Decision:
    """Decide the question against the principal's identity-based policies, the resource's policy, and the
    caps on the principal: its permissions `boundary` (one policy, or none readable) and its `session`
    policies; None: the principal has no such cap."""
    principal = question.principal
    request = _Request(question)
    identity_allows = principal.is_root
    cap: PolicyType | None = None  # the first cap that does not allow
    if principal.has_identity:
        kinds: list[tuple[PolicyType, Sequence[Policy]]] = [("identity-based", identity)]
        if boundary is not None:
            kinds.append(("permissions boundary", boundary))
        if session is not None:
            kinds.append(("session", session))
        for kind, policies in kinds:
            allows = False
            for policy in policies:
                for statement in policy.statements_for(question.action):
                    if _applies(statement, request, None) is Reach.NONE:
                        continue
                    if not statement.allow:
                        return Decision(Effect.EXPLICIT_DENY, kind, statement.sid)
                    allows = True
            if kind == "identity-based":
                identity_allows = identity_allows or allows
            elif not allows and cap is None:
                cap = kind
    reach, allow_sid = Reach.NONE, ""
    if resource is not None:
        for statement in resource.statements_for(question.action):
            found = _applies(statement, request, principal)
            if found is Reach.NONE:
                continue
            if not statement.allow:
                return Decision(Effect.EXPLICIT_DENY, "resource-based", statement.sid)
            if found > reach:
                reach, allow_sid = found, statement.sid
    return _combine(question, identity_allows, cap, reach, allow_sid, resource)


def _combine(
    question: Question,
    identity_allows: bool,
    cap: PolicyType | None,
    reach: Reach,
    sid: str,
    resource: Policy | None,
) -> Decision:
    principal = question.principal
    if reach is Reach.EXACT and not _foreign(question):
        return Decision(Effect.ALLOW, "resource-based", sid)  # names the caller itself: no cap applies
    if cap is not None and (identity_allows or reach is not Reach.NONE):
        return Decision(Effect.IMPLICIT_DENY, cap)
    resource_allows = reach >= Reach.DIRECT or (reach is Reach.ACCOUNT and identity_allows)
    if not principal.has_identity:
        needs_both = False
    elif resource is not None and resource.kind == "trust":
        needs_both = False
        if reach is Reach.NONE:
            return Decision(Effect.IMPLICIT_DENY, "resource-based")
    else:
        needs_both = _foreign(question)
    if needs_both:
        if not identity_allows:
            return Decision(Effect.IMPLICIT_DENY, "identity-based")
        if reach is Reach.NONE:
            return Decision(Effect.IMPLICIT_DENY, "resource-based")
        return Decision(Effect.ALLOW, "resource-based", sid)
    if resource_allows:
        return Decision(Effect.ALLOW, "resource-based", sid)
    if identity_allows:
        return Decision(Effect.ALLOW, "identity-based")
    if not principal.has_identity:
        return Decision(Effect.IMPLICIT_DENY, "resource-based")
    return Decision(Effect.IMPLICIT_DENY, "identity-based")


def _foreign(question: Question) -> bool:
    """Whether the resource belongs to another account than the caller's (both kinds of policy must allow)."""
    owner = _account_of(question.resource)
    return bool(owner) and owner != question.principal.account


def _account_of(arn: str) -> str:
    """The account segment of an ARN ("" for "*", or ARNs without one, such as an S3 bucket's)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def _applies(statement: Statement, request: _Request, principal: Principal | None) -> Reach:
    """Whether a statement that covers the action covers the rest of the request, and (for resource and trust
    policies) how it names the caller."""
    question = request.question
    context = request.context() if statement.uses_context else _NO_CONTEXT
    if (
        statement.resources is not None
        and statement.resources.matches(question.resource, context) == statement.not_resource
    ):
        return Reach.NONE
    reach = Reach.DIRECT
    if principal is not None and statement.principals is not None:
        if statement.not_principal:
            reach = Reach.NONE if statement.principals.excludes(principal) else Reach.DIRECT
        else:
            reach = statement.principals.reach(principal)
        if reach is Reach.NONE:
            return Reach.NONE
    if all(condition.holds(context) for condition in statement.conditions):
        return reach
    return Reach.NONE


_NO_CONTEXT: Context = {}


class _Request:
    """A question with its request context, built on first need (most statements never need it)."""

    __slots__ = ("_context", "question")

    def __init__(self, question: Question) -> None:
        self.question = question
        self._context: dict[str, tuple[str, ...]] | None = None

    def context(self) -> Context:
        if self._context is None:
            self._context = request_context(self.question)
        return self._context


def request_context(question: Question) -> dict[str, tuple[str, ...]]:
    """The request context: the caller's keys, then the principal's own (which the caller cannot override)."""
    context: dict[str, tuple[str, ...]] = {}
    for key, value in question.context.items():
        context[key.lower()] = (value,) if isinstance(value, str) else tuple(value)
    if question.now is not None:
        context.setdefault("aws:currenttime", (question.now.strftime("%Y-%m-%dT%H:%M:%SZ"),))
        context.setdefault("aws:epochtime", (str(int(question.now.timestamp())),))
    context.update(_principal_keys(question.principal))
    return context


def _principal_keys(principal: Principal) -> dict[str, tuple[str, ...]]:
    if principal.kind == "service":
        return {"aws:principalservicename": (principal.arn,), "aws:principalisawsservice": ("true",)}
    if principal.kind == "anonymous":
        return {"aws:principalisawsservice": ("false",)}
    keys: dict[str, tuple[str, ...]] = {
        "aws:principalaccount": (principal.account,),
        "aws:userid": (principal.user_id,),
        "aws:principalisawsservice": ("false",),
    }
    match principal.kind:
        case "root":
            keys["aws:principalarn"] = (principal.arn,)
            keys["aws:principaltype"] = ("Account",)
        case "user":
            keys["aws:principalarn"] = (principal.arn,)
            keys["aws:principaltype"] = ("User",)
            keys["aws:username"] = (principal.name,)
        case "assumed-role":
            keys["aws:principalarn"] = (principal.role_arn,)
            keys["aws:principaltype"] = ("AssumedRole",)
        case _:
            typing.assert_never(principal.kind)
    return keys


def denied_message(question: Question, decision: Decision) -> str:
    """AWS's AccessDenied wording for a denied decision."""
    action = question.action
    start = f"User: {question.principal.arn} is not authorized to perform: {action} on resource: {question.resource}"
    noun = _NOUNS[decision.policy_type or "identity-based"]
    if decision.effect is Effect.EXPLICIT_DENY:
        return f"{start} with an explicit deny in {noun}"
    return f"{start} because no {noun.split(' ', 1)[1]} allows the {action} action"
