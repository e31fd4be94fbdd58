"""STS: who a caller is (GetCallerIdentity), and sessions of a role for callers its trust policy lets in
(AssumeRole, decided by the policy engine), as temporary credentials (identity/sessions.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.identity.directory import Directory, Role
from lambkin.identity.policy.document import MalformedPolicy, parse_policy
from lambkin.identity.policy.evaluate import Question, evaluate
from lambkin.identity.principal_policies import documents_of
from lambkin.identity.principals import Principal
from lambkin.identity.sessions import SessionSeal, TemporaryCredentials

DEFAULT_DURATION_S = 3600
CHAINED_MAX_S = 3600  # a role session that assumes a role gets at most an hour (role chaining)
SESSION_POLICY_LIMIT = 2048  # characters of the inline session policy and the managed policies' ARNs together


class StsError(Exception):
    """An STS refusal (a DomainError): `code` as STS answers it, its message, and its HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def caller_identity(caller: Principal) -> dict[str, str]:
    """GetCallerIdentity's answer: the account root, an IAM user or an assumed role's session."""
    return {"UserId": caller.user_id, "Account": caller.account, "Arn": caller.arn}


class Sts:
    """Issues sessions of roles from the directory, sealed by `seal`, to callers their trust policies let in.

    `duration_scale` shortens every AssumeRole session by that factor (a test setting, like the async
    retry scale: 0 issues sessions that are already over), without changing what AssumeRole accepts.
    """

    def __init__(
        self,
        directory: Directory,
        seal: SessionSeal,
        clock: Clock = SYSTEM_CLOCK,
        duration_scale: float = 1.0,
    ) -> None:
        self.directory = directory
        self.seal = seal
        self.clock = clock
        self.duration_scale = duration_scale

    def assume_role(
        self,
        caller: Principal,
        role_arn: str,
        session_name: str,
        duration_s: int | None = None,
        source_ip: str = "",
        policy: str = "",
        policy_arns: Sequence[str] = (),
    ) -> TemporaryCredentials:
        """A session of the role for the caller, capped by the session policies given (an inline `policy`,
        managed `policy_arns`), or StsError (AccessDenied, ValidationError, MalformedPolicyDocument,
        PackedPolicyTooLarge)."""
        check_session_policies(policy, policy_arns)
        if caller.is_root:
            raise StsError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
        role = self.directory.role(role_arn)
        if role is None or not self._trusts(caller, role, source_ip):
            raise StsError(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                403,
            )
        duration = DEFAULT_DURATION_S if duration_s is None else duration_s
        if duration > role.max_session_duration_s:
            raise StsError(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                400,
            )
        if caller.kind == "assumed-role" and duration > CHAINED_MAX_S:
            raise StsError(
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
                "role chaining.",
                400,
            )
        return self.session(role, session_name, duration * self.duration_scale, policy, tuple(policy_arns))

    def _trusts(self, caller: Principal, role: Role, source_ip: str) -> bool:
        """The role's trust policy allows the caller sts:AssumeRole (and, where it only names the account,
        the caller's own policies do too); a caller's explicit deny wins."""
        documents = documents_of(self.directory, caller)
        try:
            trust = parse_policy(role.trust_policy, "trust")
            identity = [parse_policy(text) for text in documents.identity]
            boundary = None if documents.boundary is None else [parse_policy(documents.boundary)]
            session = None if documents.session is None else [parse_policy(t) for t in documents.session]
        except MalformedPolicy:
            return False  # IAM checked every stored document; one that fails now grants nothing
        context = {"aws:SourceIp": source_ip} if source_ip else {}
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        question = Question(caller, "sts:AssumeRole", role.arn, context, now)
        return evaluate(question, identity, trust, boundary=boundary, session=session).allowed

    def session(
        self,
        role: Role,
        session_name: str,
        duration_s: float,
        policy: str = "",
        policy_arns: tuple[str, ...] = (),
    ) -> TemporaryCredentials:
        """Credentials for a session of the role that lasts `duration_s` (trust is the caller's concern)."""
        expires = self.clock.now() + duration_s
        return self.seal.issue(role.arn, role.role_id, session_name, expires, policy, policy_arns)


def check_session_policies(policy: str, policy_arns: Sequence[str]) -> None:
    """AssumeRole's checks of its session policies: the inline one must be a valid identity-based policy,
    and together with the managed ones' ARNs it must fit STS's packed size."""
    if policy:
        try:
            parse_policy(policy)
        except MalformedPolicy as fault:
            raise StsError("MalformedPolicyDocument", fault.message, 400) from None
    used = packed_size(policy, policy_arns)
    if used > 100:
        raise StsError(
            "PackedPolicyTooLarge",
            f"Packed policy consumes {used}% of allotted space, please use smaller policy.",
            400,
        )


def packed_size(policy: str, policy_arns: Sequence[str]) -> int:
    """How much of the allotted space the session policies use, in percent (AssumeRole's PackedPolicySize):
    the inline policy without white space, and the managed policies' ARNs."""
    plain = len("".join(policy.split())) + sum(len(arn) for arn in policy_arns)
    return -(-plain * 100 // SESSION_POLICY_LIMIT)
