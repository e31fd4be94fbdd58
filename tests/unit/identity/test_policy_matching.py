"""Wildcards and policy variables: actions fold case, ARNs keep segments, variables resolve from the context."""

from __future__ import annotations

import pytest

from lambkin.identity.policy.matching import PatternSet, compile_patterns

FN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
CTX = {"aws:username": ("alice",), "aws:principalaccount": ("123456789012",), "multi": ("a", "b")}


def actions(*patterns: str) -> PatternSet:
    return compile_patterns(patterns, variables=False, arn=False, fold=True)


def resources(*patterns: str, variables: bool = True) -> PatternSet:
    return compile_patterns(patterns, variables=variables, arn=True, fold=False)


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("lambda:GetFunction", "lambda:GetFunction", True),
        ("lambda:GetFunction", "LAMBDA:getfunction", True),
        ("lambda:Get*", "lambda:GetFunctionConfiguration", True),
        ("lambda:Get*", "lambda:ListFunctions", False),
        ("lambda:*Function", "lambda:DeleteFunction", True),
        ("lambda:?etFunction", "lambda:GetFunction", True),
        ("lambda:?etFunction", "lambda:etFunction", False),
        ("*", "sqs:SendMessage", True),
        ("sqs:*", "lambda:Invoke", False),
        ("lambda:GetFunction", "lambda:GetFunctionX", False),
        ("lambda:Invent", "lambda:InventedAction", False),
    ],
)
def test_action_patterns(pattern: str, action: str, matches: bool) -> None:
    assert actions(pattern).matches(action, {}) is matches


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (FN, FN, True),
        (FN, FN.upper(), False),  # ARNs are case-sensitive
        ("arn:aws:lambda:*:123456789012:function:orders", FN, True),
        ("arn:aws:lambda:us-east-1:123456789012:function:*", FN, True),
        ("arn:aws:lambda:us-east-1:123456789012:function:*", FN + ":prod", True),  # a segment's last * spans
        ("arn:aws:lambda:us-east-1:123456789012:function:ord*", FN + ":prod", True),
        ("arn:aws:lambda:us-east-1:123456789012:function:*s", FN, True),
        ("arn:aws:lambda:us-east-1:123456789012:function:o*s", FN + ":prod:s", False),  # a middle * stays
        ("arn:aws:lambda:us-east-1:123456789012:function:order?", FN, True),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders?prod", FN + ":prod", False),  # ? is no colon
        ("arn:aws:lambda:us-east-1:123456789012:function:orders", FN + ":prod", False),
        ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1/2/test/3/o.jpg", True),
        ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1-test/o.jpg", False),
        ("*", FN, True),
        ("arn:aws:lambda:*", "*", False),
    ],
)
def test_resource_patterns(pattern: str, arn: str, matches: bool) -> None:
    assert resources(pattern).matches(arn, CTX) is matches


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("arn:aws:iam::123456789012:user/${aws:username}", "arn:aws:iam::123456789012:user/alice", True),
        ("arn:aws:iam::123456789012:user/${aws:username}", "arn:aws:iam::123456789012:user/bob", False),
        ("arn:aws:iam::123456789012:user/${AWS:UserName}", "arn:aws:iam::123456789012:user/alice", True),
        ("arn:aws:sqs:*:${aws:PrincipalAccount}:*", "arn:aws:sqs:us-east-1:123456789012:q", True),
        ("arn:aws:sqs:*:${aws:PrincipalAccount}:*", "arn:aws:sqs:us-east-1:999999999999:q", False),
        ("arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b/alice/x/y", True),
        ("arn:aws:s3:::b/${missing}/*", "arn:aws:s3:::b/alice/x", False),  # no value: matches nothing
        ("arn:aws:s3:::b/${missing, 'shared'}/*", "arn:aws:s3:::b/shared/x", True),
        ("arn:aws:s3:::b/${multi}", "arn:aws:s3:::b/a", False),  # a multivalued key is no variable
        ("arn:aws:s3:::b/${*}x", "arn:aws:s3:::b/*x", True),
        ("arn:aws:s3:::b/${*}x", "arn:aws:s3:::b/yx", False),
        ("arn:aws:s3:::b/${?}${$}", "arn:aws:s3:::b/?$", True),
    ],
)
def test_resource_variables(pattern: str, arn: str, matches: bool) -> None:
    assert resources(pattern).matches(arn, CTX) is matches


def test_variables_are_text_where_the_version_has_none() -> None:
    literal = resources("arn:aws:s3:::b/${aws:username}", variables=False)
    assert literal.matches("arn:aws:s3:::b/${aws:username}", CTX)
    assert not literal.matches("arn:aws:s3:::b/alice", CTX)


def test_a_value_resolved_into_a_pattern_is_literal() -> None:
    starry = {"aws:username": ("*",)}
    assert not resources("arn:aws:s3:::b/${aws:username}").matches("arn:aws:s3:::b/x", starry)
    assert resources("arn:aws:s3:::b/${aws:username}").matches("arn:aws:s3:::b/*", starry)
