"""The Authorizer: "may this principal do this action on this resource?", answered by the policy engine
from caches, so that a request on the hot path costs a few dict lookups.

Caches, each keyed by what decides its content:
- parsed policies by (document text, kind): a document is parsed once, whoever it applies to;
- a principal's policies (identity-based, its permissions boundary, its session policies) by (principal,
  directory generation): any IAM write changes the generation, so the next request reads the directory
  again; the principal is its whole value (its ID and session policies too, not only its ARN, which a
  session of a re-created role, or one with other session policies, shares);
- decisions by (principal, generation, action, resource, resource policy text, condition keys, source
  IP), kept only when no policy in play reads the clock (aws:CurrentTime, aws:EpochTime), whose answer
  could change from one request to the next. A resource policy's text is its version.
The account root is allowed everything without any of this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from lambkin.identity.directory import Directory
from lambkin.identity.policy.document import MalformedPolicy, Policy, parse_policy
from lambkin.identity.policy.evaluate import Question, denied_message, evaluate
from lambkin.identity.principal_policies import documents_of
from lambkin.identity.principals import Principal

Kind = Literal["identity", "resource"]
Keys = tuple[tuple[str, str], ...]
CACHE_LIMIT = 65_536  # entries per cache before it starts over
_CLOCK_KEYS = ("aws:currenttime", "aws:epochtime")


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A parsed document, and whether its conditions read the clock (decisions on it are not kept)."""

    policy: Policy | None  # None: a resource policy the engine refuses counts as no policy
    timed: bool


@dataclass(frozen=True, slots=True)
class _Identity:
    generation: int
    policies: tuple[Policy, ...]
    boundary: tuple[Policy, ...] | None  # one policy, or none when IAM's document cannot be read
    session: tuple[Policy, ...] | None
    timed: bool


def _context(keys: Keys, source_ip: str) -> dict[str, str]:
    """The request's condition keys (aws:CurrentTime and aws:EpochTime come from the question's `now`)."""
    context = {"aws:SecureTransport": "false"}
    if source_ip:
        context["aws:SourceIp"] = source_ip
    context.update(keys)
    return context


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Authorizer:
    """Decides requests for one account, from the IAM directory's policies and the resources' own."""

    def __init__(self, directory: Directory, account_id: str, now: Callable[[], datetime] = _utcnow) -> None:
        self.directory = directory
        self.account_id = account_id
        self.now = now
        self._parsed: dict[tuple[str, Kind], _Parsed] = {}
        self._identities: dict[Principal, _Identity] = {}
        self._decisions: dict[tuple[object, ...], str | None] = {}

    def refusal(
        self,
        principal: Principal,
        action: str,
        resource: str,
        policy: str | None = None,
        keys: Keys = (),
        source_ip: str = "",
    ) -> str | None:
        """None if `principal` may do `action` on `resource` (whose own policy document is `policy`, if
        any, with the service's condition `keys`); else AWS's AccessDenied message."""
        if principal.is_root:
            return None
        generation = self.directory.generation
        key = (principal, generation, action, resource, policy, keys, source_ip)
        try:
            return self._decisions[key]
        except KeyError:
            pass
        identity = self._identity(principal, generation)
        parsed = self._parse(policy, "resource") if policy is not None else None
        question = Question(principal, action, resource, _context(keys, source_ip), self.now())
        decision = evaluate(
            question,
            identity.policies,
            parsed.policy if parsed else None,
            boundary=identity.boundary,
            session=identity.session,
        )
        answer = None if decision.allowed else denied_message(question, decision)
        if not identity.timed and not (parsed and parsed.timed):
            if len(self._decisions) >= CACHE_LIMIT:
                self._decisions.clear()
            self._decisions[key] = answer
        return answer

    def role_may(
        self, role_arn: str, session_name: str, action: str, resource: str, policy: str | None = None
    ) -> bool:
        """Whether a session of the role (as Lambda assumes a function's role, named after the function)
        may do `action` on `resource`: for what lambkin does on a function's behalf. A role IAM does not
        know may do nothing."""
        role = self.directory.role(role_arn)
        if role is None:
            return False
        account = role_arn.split(":")[4]
        session = Principal(
            kind="assumed-role",
            arn=f"arn:aws:sts::{account}:assumed-role/{role.name}/{session_name}",
            account=account,
            user_id=f"{role.role_id}:{session_name}",
            name=session_name,
            role_arn=role_arn,
        )
        return self.refusal(session, action, resource, policy) is None

    def _identity(self, principal: Principal, generation: int) -> _Identity:
        cached = self._identities.get(principal)
        if cached is not None and cached.generation == generation:
            return cached
        documents = documents_of(self.directory, principal)
        parsed = [self._parse(text, "identity") for text in documents.identity]
        boundary = self._parse(documents.boundary, "identity") if documents.boundary is not None else None
        session = (
            None if documents.session is None else [self._parse(t, "identity") for t in documents.session]
        )
        every = [*parsed, *([boundary] if boundary else []), *(session or [])]
        identity = _Identity(
            generation,
            _policies(parsed),
            None if boundary is None else _policies([boundary]),
            None if session is None else _policies(session),
            any(p.timed for p in every),
        )
        if len(self._identities) >= CACHE_LIMIT:
            self._identities.clear()
        self._identities[principal] = identity
        return identity

    def _parse(self, text: str, kind: Kind) -> _Parsed:
        cached = self._parsed.get((text, kind))
        if cached is not None:
            return cached
        try:
            policy: Policy | None = parse_policy(text, kind)
        except MalformedPolicy:
            policy = None  # IAM refuses these when they are written; a queue Policy may still be one
        lowered = text.lower()
        parsed = _Parsed(policy, any(key in lowered for key in _CLOCK_KEYS))
        if len(self._parsed) >= CACHE_LIMIT:
            self._parsed.clear()
        self._parsed[text, kind] = parsed
        return parsed


def _policies(parsed: Sequence[_Parsed]) -> tuple[Policy, ...]:
    return tuple(p.policy for p in parsed if p.policy is not None)
