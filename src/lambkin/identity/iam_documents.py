"""How IAM checks a policy document it is given: the policy engine parses it (identity/policy/), and a
fault becomes IAM's MalformedPolicyDocument; a trust policy is also held to IAM's size quota."""

from __future__ import annotations

from lambkin.identity import iam_errors as errors
from lambkin.identity.iam import DocumentKind
from lambkin.identity.policy.document import MalformedPolicy, parse_policy

TRUST_POLICY_MAX = 2_048  # ACLSizePerRole, IAM's default quota (white space not counted)


def check_document(text: str, kind: DocumentKind) -> None:
    """A `DocumentCheck` for the IAM service."""
    try:
        parse_policy(text, kind)
    except MalformedPolicy as exc:
        raise errors.MalformedPolicyDocument(exc.message) from exc
    if kind == "trust" and len("".join(text.split())) > TRUST_POLICY_MAX:
        raise errors.LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX}")
