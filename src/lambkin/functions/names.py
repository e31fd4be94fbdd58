"""Function names in every form Lambda accepts (name, partial ARN, full ARN, `:qualifier`) and the ARNs we build."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lambkin.functions.errors import InvalidParameterValue, not_found
from lambkin.functions.model import LATEST

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_QUALIFIER = re.compile(r"\$LATEST|[0-9]+|[a-zA-Z0-9_-]{1,128}")
_ACCOUNT = re.compile(r"[0-9]{12}")
QUALIFIER_MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."


@dataclass(frozen=True)
class FunctionRef:
    """A function name with the qualifier it was given, if any ($LATEST, a version number or an alias)."""

    name: str
    qualifier: str | None = None


def is_version_qualifier(qualifier: str) -> bool:
    return qualifier == LATEST or qualifier.isdigit()


@dataclass(frozen=True)
class Arns:
    """Builds and reads ARNs for one region and account."""

    region: str
    account_id: str

    def function(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def qualified(self, name: str, qualifier: str) -> str:
        return f"{self.function(name)}:{qualifier}"

    def of(self, ref: FunctionRef) -> str:
        return self.function(ref.name) if ref.qualifier is None else self.qualified(ref.name, ref.qualifier)

    def role(self, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    def parse(self, raw: str, qualifier: str | None = None, *, qualified: bool = True) -> FunctionRef:
        """The function a `FunctionName` member names, merged with a separate `Qualifier` member.

        `qualified=False` is for operations that act on the unqualified function only. (Kept per arguments:
        every invoke names its function again.)
        """
        return _parsed(self, raw, qualifier, qualified)

    def _parse(self, raw: str, qualifier: str | None, qualified: bool) -> FunctionRef:
        ref = self._split(raw)
        given = qualifier or None
        if given is not None:
            if ref.qualifier is not None and ref.qualifier != given:
                raise InvalidParameterValue(QUALIFIER_MISMATCH)
            ref = FunctionRef(ref.name, given)
        if ref.qualifier is not None:
            if not _QUALIFIER.fullmatch(ref.qualifier):
                raise InvalidParameterValue(f"Invalid qualifier: {ref.qualifier}")
            if not qualified:
                raise InvalidParameterValue(
                    f"Unsupported qualifier {ref.qualifier}: this operation applies to the unqualified "
                    f"function {self.function(ref.name)}"
                )
        return ref

    def parse_resource(self, resource: str) -> str:
        """The function name of a taggable resource ARN (tags belong to unqualified functions only)."""
        if not resource.startswith("arn:"):
            raise InvalidParameterValue(f"Invalid ARN: {resource}")
        ref = self._split(resource)
        if ref.qualifier is not None:
            raise InvalidParameterValue(
                "Tags on function aliases and versions are not supported. Please specify a function ARN."
            )
        return ref.name

    def _split(self, raw: str) -> FunctionRef:
        parts = raw.split(":")
        if raw.startswith("arn:"):
            if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
                raise InvalidParameterValue(f"Invalid function ARN: {raw}")
            region, account = parts[3], parts[4]
            if region != self.region:
                raise InvalidParameterValue(
                    f"Functions from '{region}' are not reachable in this region ('{self.region}')"
                )
            if account != self.account_id:
                raise not_found(raw)
            parts = parts[6:]
        elif len(parts) in (3, 4) and parts[1] == "function":
            if not _ACCOUNT.fullmatch(parts[0]):
                raise InvalidParameterValue(f"Invalid account ID in function name: {raw}")
            if parts[0] != self.account_id:
                raise not_found(raw)
            parts = parts[2:]
        if len(parts) not in (1, 2):
            raise InvalidParameterValue(f"Invalid function name: {raw}")
        name = parts[0]
        if not _NAME.fullmatch(name):
            raise InvalidParameterValue(
                f"Invalid function name: {name}. A function name has 1 to 64 letters, digits, '-' or '_'."
            )
        return FunctionRef(name, parts[1] if len(parts) == 2 else None)


@lru_cache(maxsize=1024)
def _parsed(arns: Arns, raw: str, qualifier: str | None, qualified: bool) -> FunctionRef:
    """`Arns.parse`, kept for names that parse (a name that does not raises again each time)."""
    return arns._parse(raw, qualifier, qualified)
