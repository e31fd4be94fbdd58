"""Policy documents: parse and validate the JSON once, as IAM does, into a frozen, compiled Policy.

`kind` decides what a statement must and must not have: an identity-based policy needs Action and Resource and
names no principal; a resource-based policy (a Lambda function's, an SQS queue's) and a trust policy (a role's
AssumeRolePolicyDocument) need a Principal, and a trust policy has no Resource and only STS actions. A fault
raises MalformedPolicy with IAM's MalformedPolicyDocument wording and where in the text it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import JSONObject  # type: ignore[attr-defined]
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any, Literal

from lambkin import json_depth
from lambkin.identity.policy.conditions import (
    BadValue,
    Condition,
    NullCheck,
    UnknownOperator,
    compile_condition,
)
from lambkin.identity.policy.matching import PatternSet, compile_patterns
from lambkin.identity.policy.principal_element import InvalidPrincipal, PrincipalSet, compile_principal

Kind = Literal["identity", "resource", "trust"]

VERSIONS = ("2012-10-17", "2008-10-17")
SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
_PARTITIONS = frozenset(
    {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "*"}
)
_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_SID = re.compile(r"^[0-9A-Za-z]*$")
_REMEMBERED_ACTIONS = 4096


class MalformedPolicy(Exception):
    """IAM's MalformedPolicyDocument: `.message` is IAM's text with the position of the fault."""

    code = "MalformedPolicyDocument"

    def __init__(self, text: str, line: int | None = None, column: int | None = None) -> None:
        self.text = text  # IAM's wording alone
        self.line = line
        self.column = column
        self.message = text if line is None else f"{text} (line {line}, column {column})"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement. `principals` is None where the policy kind has no Principal element; likewise
    `resources` for a trust policy (and a resource-based statement without Resource)."""

    sid: str
    allow: bool
    actions: PatternSet
    not_action: bool
    resources: PatternSet | None
    not_resource: bool
    principals: PrincipalSet | None
    not_principal: bool
    conditions: tuple[Condition | NullCheck, ...]
    uses_context: bool  # conditions, or variables in Resource


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed, validated, compiled policy document."""

    kind: Kind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, compare=False, repr=False)

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action (or NotAction) covers the action; remembered per action, since a
        server asks about a few hundred actions at most."""
        found = self._by_action.get(action)
        if found is None:
            if len(self._by_action) >= _REMEMBERED_ACTIONS:
                self._by_action.clear()
            found = tuple(s for s in self.statements if s.actions.matches(action, {}) != s.not_action)
            self._by_action[action] = found
        return found


class _Located(dict[str, Any]):
    """A JSON object that remembers where its text starts."""

    offset: int = 0


def _parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[_Located, int]:
    pairs, end = JSONObject(s_and_end, *args)
    located = _Located(pairs)
    located.offset = s_and_end[1] - 1
    return located, end


_DEEPEST = 16
"""The grammar's deepest point is a condition's values (5 levels); the decoder below recurses in Python, so a
document far deeper than any policy is refused before it is decoded."""


class _Decoder(json.JSONDecoder):
    def __init__(self) -> None:
        super().__init__()
        self.parse_object = _parse_object
        self.scan_once = py_make_scanner(self)


def parse_policy(text: str, kind: Kind = "identity", *, managed: bool = False) -> Policy:
    """Parse and validate a policy document of this kind; raises MalformedPolicy. `managed`: a managed
    policy's document (CreatePolicy, CreatePolicyVersion), which IAM accepts only in Version 2012-10-17."""
    if json_depth.too_deep(text, _DEEPEST):
        raise MalformedPolicy(SYNTAX, 1, 1)
    try:
        document = _Decoder().decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedPolicy(SYNTAX, exc.lineno, exc.colno) from None
    policy = _Parser(text, kind).policy(document)
    if managed and policy.version != "2012-10-17":
        raise MalformedPolicy("Policy document must be version 2012-10-17 or greater.", 1, 1)
    return policy


class _Parser:
    def __init__(self, text: str, kind: Kind) -> None:
        self.text = text
        self.kind = kind
        self.variables = False

    def fault(self, message: str, where: object, text: str | None = None) -> MalformedPolicy:
        """The fault, placed at the object `where` or, when given and found in it, at the `text` inside."""
        offset = where.offset if isinstance(where, _Located) else 0
        if text is not None:
            found = self.text.find(json.dumps(text), offset)
            offset = found if found >= 0 else offset
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return MalformedPolicy(message, line, column)

    def policy(self, document: object) -> Policy:
        if not isinstance(document, _Located):
            raise self.fault(SYNTAX, document)
        if set(document) - _TOP_FIELDS:
            raise self.fault(SYNTAX, document)
        version = document.get("Version")
        if version is not None and version not in VERSIONS:
            raise self.fault(SYNTAX, document)
        self.variables = version == "2012-10-17"
        policy_id = document.get("Id")
        if policy_id is not None and not isinstance(policy_id, str):
            raise self.fault(SYNTAX, document)
        given = document.get("Statement")
        raw = given if isinstance(given, list) else [given]
        if not given:
            raise self.fault(SYNTAX, document)
        statements = tuple(self.statement(item) for item in raw)
        sids = [statement.sid for statement in statements if statement.sid]
        if len(sids) != len(set(sids)):
            raise self.fault("Statement IDs (SID) in a single policy must be unique.", document)
        return Policy(self.kind, version, policy_id, statements)

    def statement(self, item: object) -> Statement:
        if not isinstance(item, _Located):
            raise self.fault(SYNTAX, item)
        if set(item) - _STATEMENT_FIELDS:
            raise self.fault(SYNTAX, item)
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in item and b in item:
                raise self.fault(SYNTAX, item)
        sid = item.get("Sid", "")
        if not isinstance(sid, str):
            raise self.fault(SYNTAX, item)
        if self.kind != "resource" and not _SID.match(sid):
            raise self.fault(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
                "regular expression [0-9A-Za-z]*",
                item,
            )
        effect = item.get("Effect")
        if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
            raise self.fault(SYNTAX, item)
        if effect not in ("Allow", "Deny"):
            raise self.fault(LEGACY, item)
        actions, not_action = self.actions(item)
        resources, not_resource = self.resources(item)
        principals, not_principal = self.principals(item)
        conditions = self.conditions(item)
        uses_context = bool(conditions) or bool(resources and resources.templates)
        return Statement(
            sid,
            effect == "Allow",
            actions,
            not_action,
            resources,
            not_resource,
            principals,
            not_principal,
            conditions,
            uses_context,
        )

    def strings(self, item: _Located, field: str) -> list[str]:
        given = item[field]
        values = given if isinstance(given, list) else [given]
        if not all(isinstance(value, str) for value in values):
            raise self.fault(SYNTAX, item)
        return [str(value) for value in values]

    def actions(self, item: _Located) -> tuple[PatternSet, bool]:
        field = "NotAction" if "NotAction" in item else "Action"
        if field not in item or not (values := self.strings(item, field)):
            raise self.fault("Policy statement must contain actions.", item)
        for action in values:
            if action == "*":
                continue
            vendor, colon, name = action.partition(":")
            if not colon or not vendor:
                raise self.fault(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", item, action
                )
            if ":" in name:
                raise self.fault("Actions/Condition can contain only one colon.", item, action)
            if self.kind == "trust" and vendor.lower() != "sts":
                raise self.fault("AssumeRole policy may only specify STS AssumeRole actions.", item, action)
        return compile_patterns(values, variables=False, arn=False, fold=True), field == "NotAction"

    def resources(self, item: _Located) -> tuple[PatternSet | None, bool]:
        field = "NotResource" if "NotResource" in item else "Resource"
        if self.kind == "trust":
            if field in item:
                raise self.fault(f"Has prohibited field {field}", item, field)
            return None, False
        if field not in item:
            if self.kind == "identity":
                raise self.fault("Policy statement must contain resources.", item)
            return None, False
        values = self.strings(item, field)
        if not values:
            raise self.fault("Policy statement must contain resources.", item)
        for resource in values:
            if problem := _resource_problem(resource):
                raise self.fault(problem, item, resource)
        patterns = compile_patterns(values, variables=self.variables, arn=True, fold=False)
        return patterns, field == "NotResource"

    def principals(self, item: _Located) -> tuple[PrincipalSet | None, bool]:
        field = "NotPrincipal" if "NotPrincipal" in item else "Principal"
        if self.kind == "identity":
            if field in item:
                raise self.fault("Policy document should not specify a principal.", item, field)
            return None, False
        if field not in item:
            raise self.fault("Missing required field Principal", item)
        try:
            return compile_principal(item[field]), field == "NotPrincipal"
        except InvalidPrincipal as exc:
            raise self.fault(f"Invalid principal in policy: {exc}", item) from None
        except TypeError:
            raise self.fault(SYNTAX, item) from None

    def conditions(self, item: _Located) -> tuple[Condition | NullCheck, ...]:
        block = item.get("Condition")
        if block is None:
            return ()
        if not isinstance(block, _Located):
            raise self.fault(SYNTAX, item)
        compiled: list[Condition | NullCheck] = []
        for operator_name, keys in block.items():
            if not isinstance(keys, _Located):
                raise self.fault(SYNTAX, block, operator_name)
            for key, given in keys.items():
                if ":" not in key or key.startswith(":"):
                    raise self.fault(
                        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                        keys,
                        key,
                    )
                values = given if isinstance(given, list) else [given]
                if not all(isinstance(value, str | int | float | bool) for value in values):
                    raise self.fault(SYNTAX, keys, key)
                texts = [_text(value) for value in values]
                try:
                    compiled.append(compile_condition(operator_name, key, texts, variables=self.variables))
                except UnknownOperator:
                    raise self.fault(SYNTAX, block, operator_name) from None
                except BadValue:
                    problem = LEGACY if operator_name.startswith("Date") else SYNTAX
                    raise self.fault(problem, keys, key) from None
        return tuple(compiled)


def _text(value: str | int | float | bool) -> str:
    """A condition value as IAM reads it: JSON booleans as "true"/"false", numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _resource_problem(resource: str) -> str | None:
    """IAM's objection to a Resource entry's format, if any."""
    if resource == "*":
        return None
    if ":" not in resource or not resource.startswith("arn:"):
        return f'Resource {resource} must be in ARN format or "*".'
    parts = resource.split(":", 5)
    if parts[1] not in _PARTITIONS:
        padded = [*parts[2:], "*", "*", "*", "*"][:4]
        return f'Partition "{parts[1]}" is not valid for resource "arn:{parts[1]}:{":".join(padded)}".'
    if len(parts) < 3 or not parts[2]:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    return None
