"""Policy documents: what IAM accepts per kind, and its MalformedPolicyDocument texts with the position."""

from __future__ import annotations

import json

import pytest

from lambkin.identity.policy.document import Kind, MalformedPolicy, parse_policy


def doc(*statements: dict[str, object], version: str | None = "2012-10-17", **top: object) -> str:
    body: dict[str, object] = {"Statement": list(statements), **top}
    if version is not None:
        body = {"Version": version, **body}
    return json.dumps(body, indent=2)


ALLOW = {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}
TRUST = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


def fault(text: str, kind: Kind = "identity") -> MalformedPolicy:
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(text, kind)
    assert caught.value.code == "MalformedPolicyDocument"
    return caught.value


def test_a_valid_identity_policy_compiles() -> None:
    policy = parse_policy(
        doc({**ALLOW, "Sid": "Read"}, {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "*"})
    )
    assert policy.kind == "identity"
    assert policy.version == "2012-10-17"
    assert [s.sid for s in policy.statements] == ["Read", ""]
    assert [s.allow for s in policy.statements] == [True, False]
    assert policy.statements[1].not_action and policy.statements[1].not_resource


def test_statement_may_be_one_object_and_version_may_be_absent() -> None:
    policy = parse_policy(json.dumps({"Statement": ALLOW}))
    assert policy.version is None
    assert len(policy.statements) == 1


def test_json_syntax_errors_give_line_and_column() -> None:
    error = fault('{\n  "Statement": [\n    {"Effect": "Allow",}\n  ]\n}')
    assert error.text == "Syntax errors in policy."
    assert (error.line, error.column) == (3, 24)
    assert error.message == "Syntax errors in policy. (line 3, column 24)"


@pytest.mark.parametrize("depth", [20, 2000])
def test_a_document_nested_far_deeper_than_any_policy_is_a_syntax_error(depth: int) -> None:
    deep = '{"a":' * depth + '"1"' + "}" * depth
    text = doc({**ALLOW, "Condition": {"Bool": "DEEP"}}).replace('"DEEP"', deep)
    assert fault(text).text == "Syntax errors in policy."


def test_value_faults_point_at_the_value() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": {\n    "Effect": "Allow",\n    "Action": "s3:*",\n    "Resource": ["*", "bucket"]\n  }\n}'
    error = fault(text)
    assert error.message == 'Resource bucket must be in ARN format or "*". (line 6, column 23)'
    condition = doc({**ALLOW, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}})
    error = fault(condition)
    assert condition.splitlines()[error.line - 1][error.column - 1 :].startswith('"aws:CurrentTime"')


def test_statement_faults_point_at_their_statement() -> None:
    error = fault(doc(ALLOW, {"Effect": "Allow", "Action": "s3:GetObject"}))
    assert error.text == "Policy statement must contain resources."
    assert error.line == 9  # the second statement opens on line 9 of the indented document


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({"Effect": "Allow", "Resource": "*"}, "Policy statement must contain actions."),
        ({"Effect": "Allow", "Action": [], "Resource": "*"}, "Policy statement must contain actions."),
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "Policy statement must contain resources."),
        ({**ALLOW, "Principal": "*"}, "Policy document should not specify a principal."),
        (
            {**ALLOW, "NotPrincipal": {"AWS": "123456789012"}},
            "Policy document should not specify a principal.",
        ),
        ({**ALLOW, "Effect": "Alow"}, "Syntax errors in policy."),
        ({**ALLOW, "Effect": "allow"}, "The policy failed legacy parsing"),
        ({"Action": "s3:*", "Resource": "*"}, "Syntax errors in policy."),
        (
            {**ALLOW, "Action": "GetFunction"},
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        ({**ALLOW, "Action": "lambda:Get:Function"}, "Actions/Condition can contain only one colon."),
        ({**ALLOW, "Resource": "my-function"}, 'Resource my-function must be in ARN format or "*".'),
        (
            {**ALLOW, "Resource": "arn:awz:lambda"},
            'Partition "awz" is not valid for resource "arn:awz:lambda:*:*:*".',
        ),
        (
            {**ALLOW, "Resource": "arn:aws"},
            "Resource vendor must be fully qualified and cannot contain regexes.",
        ),
        ({**ALLOW, "Foo": "bar"}, "Syntax errors in policy."),
        ({**ALLOW, "NotAction": "s3:*"}, "Syntax errors in policy."),
        ({**ALLOW, "Action": {"lambda": "Get"}}, "Syntax errors in policy."),
        (
            {**ALLOW, "Sid": "not-alnum"},
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        ({**ALLOW, "Condition": {"StringEqualz": {"aws:SourceAccount": "1"}}}, "Syntax errors in policy."),
        ({**ALLOW, "Condition": {"stringequals": {"aws:SourceAccount": "1"}}}, "Syntax errors in policy."),
        (
            {**ALLOW, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}},
            "The policy failed legacy parsing",
        ),
        (
            {**ALLOW, "Condition": {"StringEquals": {"SourceAccount": "1"}}},
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            {**ALLOW, "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "soon"}}},
            "Syntax errors in policy.",
        ),
        (
            {**ALLOW, "Condition": {"StringEquals": {"aws:SourceAccount": {"a": 1}}}},
            "Syntax errors in policy.",
        ),
    ],
)
def test_identity_policy_faults(statement: dict[str, object], message: str) -> None:
    assert fault(doc(statement)).text == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-17"}), "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "Syntax errors in policy."),
        (json.dumps({"Version": "2012-10-18", "Statement": [ALLOW]}), "Syntax errors in policy."),
        (json.dumps({"Statement": [ALLOW], "Condition": {}}), "Syntax errors in policy."),
        (
            doc({**ALLOW, "Sid": "A"}, {**ALLOW, "Sid": "A"}),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
    ],
)
def test_document_faults(text: str, message: str) -> None:
    assert fault(text).text == message


def test_managed_policies_need_the_current_version() -> None:
    assert parse_policy(doc(ALLOW), managed=True).version == "2012-10-17"
    for version in ("2008-10-17", None):
        with pytest.raises(MalformedPolicy) as caught:
            parse_policy(doc(ALLOW, version=version), managed=True)
        assert caught.value.text == "Policy document must be version 2012-10-17 or greater."
    assert parse_policy(doc(ALLOW, version=None)).version is None  # an inline policy may omit it


def test_empty_condition_blocks_are_accepted_as_iam_does() -> None:
    for condition in ({}, {"StringEquals": {}}, {"StringEquals": {"aws:SourceAccount": []}}):
        assert parse_policy(doc({**ALLOW, "Condition": condition})).statements


def test_unknown_actions_are_accepted() -> None:
    assert parse_policy(doc({**ALLOW, "Action": "lambda:NoSuchThing"})).statements


def test_trust_policies() -> None:
    assert parse_policy(doc(TRUST), "trust").statements[0].resources is None
    assert fault(doc({**TRUST, "Resource": "*"}), "trust").text == "Has prohibited field Resource"
    assert fault(doc({**TRUST, "Action": "s3:GetObject"}), "trust").text == (
        "AssumeRole policy may only specify STS AssumeRole actions."
    )
    no_principal = {k: v for k, v in TRUST.items() if k != "Principal"}
    assert fault(doc(no_principal), "trust").text == "Missing required field Principal"


@pytest.mark.parametrize(
    ("principal", "message"),
    [
        (
            {"AWS": "arn:aws:iam::123456789012:role/*"},
            'Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"',
        ),
        ({"AWS": "bob"}, 'Invalid principal in policy: "AWS":"bob"'),
        ({"Robot": "x"}, 'Invalid principal in policy: "Robot":"x"'),
        ({"AWS": 123}, "Syntax errors in policy."),
        ("everyone", "Syntax errors in policy."),
    ],
)
def test_invalid_principals(principal: object, message: str) -> None:
    assert fault(doc({**TRUST, "Principal": principal}), "trust").text == message


def test_resource_policies_need_a_principal_and_allow_any_sid() -> None:
    statement = {**ALLOW, "Sid": "invoke-from-events_1", "Principal": {"Service": "events.amazonaws.com"}}
    assert parse_policy(doc(statement), "resource").statements[0].sid == "invoke-from-events_1"
    assert fault(doc(ALLOW), "resource").text == "Missing required field Principal"
