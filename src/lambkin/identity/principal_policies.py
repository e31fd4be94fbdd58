"""What applies to a principal, as documents from the directory: its identity-based policies, and the caps on
it, a permissions boundary and the session policies its session was given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lambkin.identity.directory import Directory
from lambkin.identity.principals import Principal


@dataclass(frozen=True, slots=True)
class PrincipalDocuments:
    identity: Sequence[str]
    boundary: str | None  # None: no permissions boundary is set
    session: Sequence[str] | None  # None: the session was given no session policies


NONE = PrincipalDocuments((), None, None)


def documents_of(directory: Directory, principal: Principal) -> PrincipalDocuments:
    """The principal's policies (a service's are none: only resource-based policies name services). A managed
    session policy deleted since the session began caps it to nothing, as a missing policy allows nothing."""
    if not principal.has_identity or principal.is_root:
        return NONE
    session: list[str] | None = None
    if principal.has_session_policies:
        session = [principal.session_policy] if principal.session_policy else []
        for arn in principal.session_policy_arns:
            document = directory.managed_policy(arn)
            if document is not None:
                session.append(document)
    return PrincipalDocuments(
        directory.identity_policies(principal), directory.permissions_boundary(principal), session
    )
