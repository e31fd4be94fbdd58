"""The Principal and NotPrincipal elements: whom a resource or trust policy statement names, and how.

AWS's rules (IAM JSON policy elements: Principal): "*" and {"AWS": "*"} name everyone; an account ID or
`arn:aws:iam::ACCOUNT:root` names the account, which *delegates* to it (a same-account user or role still needs
an identity-based allow); a user ARN names that user; a role ARN names every session of that role; an
assumed-role session ARN names that session; {"Service": "lambda.amazonaws.com"} names that service. Partial
wildcards are not principals.

A NotPrincipal statement applies to everyone it does not exclude; as AWS documents for NotPrincipal with Deny,
a caller is excluded only when its account and each identity it acts as (the role and the session of an
assumed role) are all listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from lambkin.identity.principals import Principal


class Reach(IntEnum):
    """How a statement's principal element names a caller."""

    NONE = 0
    ACCOUNT = 1  # through the caller's account: delegated, the caller's own policies must allow too
    DIRECT = 2  # the caller (its role, its service, or everyone): still capped by boundaries and sessions
    EXACT = 3  # the caller's very own ARN (a user, a role session): not capped


class InvalidPrincipal(ValueError):
    """IAM's `Invalid principal in policy: "AWS":"value"` (str(exc) is the `"AWS":"value"` part)."""


_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
_IDENTITY = re.compile(
    r"^arn:aws[a-z-]*:(?:iam::\d{12}:(?:user|role)/\S+|sts::\d{12}:(?:assumed-role/\S+/\S+|federated-user/\S+))$"
)
_UNIQUE_ID = re.compile(r"^A[A-Z0-9]{15,}$")  # what IAM shows in place of a deleted user or role
_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


@dataclass(frozen=True, slots=True)
class PrincipalSet:
    """A compiled Principal or NotPrincipal element."""

    everyone: bool = False  # "*"
    every_aws: bool = False  # {"AWS": "*"}: every signed caller, not services acting on their own
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()  # users, roles, sessions, federated users
    unique_ids: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()  # lower-cased

    def reach(self, caller: Principal) -> Reach:
        """How this Principal element names the caller."""
        if self.everyone or (self.every_aws and caller.kind != "service"):
            return Reach.DIRECT
        if caller.kind == "service":
            return Reach.DIRECT if caller.arn.lower() in self.services else Reach.NONE
        if caller.arn in self.arns:
            return Reach.DIRECT if caller.is_root else Reach.EXACT
        if caller.role_arn and caller.role_arn in self.arns:
            return Reach.DIRECT
        if self.unique_ids:
            if caller.user_id in self.unique_ids and not caller.is_root:
                return Reach.EXACT
            if any(caller.user_id.startswith(uid + ":") for uid in self.unique_ids):
                return Reach.DIRECT
        if caller.account in self.accounts:
            return Reach.DIRECT if caller.is_root else Reach.ACCOUNT
        return Reach.NONE

    def excludes(self, caller: Principal) -> bool:
        """Whether a NotPrincipal element with these entries leaves the caller out."""
        if self.everyone or (self.every_aws and caller.kind != "service"):
            return True
        if caller.kind == "service":
            return caller.arn.lower() in self.services
        chain = [caller.account in self.accounts]
        if caller.role_arn:
            chain.append(caller.role_arn in self.arns)
        if not caller.is_root:
            chain.append(caller.arn in self.arns)
        return all(chain)


def compile_principal(element: object) -> PrincipalSet:
    """The Principal element as IAM accepts it; raises InvalidPrincipal or TypeError (not a principal shape)."""
    if element == "*":
        return PrincipalSet(everyone=True)
    if not isinstance(element, dict) or not element:
        raise TypeError("principal")
    accounts: set[str] = set()
    arns: set[str] = set()
    unique_ids: set[str] = set()
    services: set[str] = set()
    every_aws = False
    for kind, given in element.items():
        if kind not in _TYPES:
            raise InvalidPrincipal(f'"{kind}":{_quoted(given)}')
        for value in _strings(given):
            if kind == "AWS":
                if value == "*":
                    every_aws = True
                elif _ACCOUNT.match(value):
                    accounts.add(value)
                elif root := _ROOT.match(value):
                    accounts.add(root[1])
                elif _IDENTITY.match(value) and "*" not in value and "?" not in value:
                    arns.add(value)
                elif _UNIQUE_ID.match(value):
                    unique_ids.add(value)
                else:
                    raise InvalidPrincipal(f'"AWS":"{value}"')
            elif kind == "Service":
                services.add(value.lower())
            # Federated and CanonicalUser principals are accepted; no lambkin caller is one
    return PrincipalSet(
        everyone=False,
        every_aws=every_aws,
        accounts=frozenset(accounts),
        arns=frozenset(arns),
        unique_ids=frozenset(unique_ids),
        services=frozenset(services),
    )


def _strings(given: object) -> Sequence[str]:
    values = given if isinstance(given, list) else [given]
    if not values or not all(isinstance(value, str) for value in values):
        raise TypeError("principal value")
    return [str(value) for value in values]


def _quoted(given: object) -> str:
    return f'"{given}"' if isinstance(given, str) else str(given)
