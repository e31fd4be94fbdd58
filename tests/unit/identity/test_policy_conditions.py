"""Condition operators: values ORed, missing keys false except negated, IfExists and Null; set qualifiers."""

from __future__ import annotations

import pytest

from lambkin.identity.policy.conditions import BadValue, UnknownOperator, compile_condition


def holds(operator: str, key: str, values: list[str], context: dict[str, tuple[str, ...]]) -> bool:
    return compile_condition(operator, key, values, variables=True).holds(context)


SOURCE = {"aws:sourcearn": ("arn:aws:sqs:us-east-1:123456789012:orders",)}


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEquals", ["a", "b"], {"k:k": ("b",)}, True),
        ("StringEquals", ["a"], {"k:k": ("A",)}, False),
        ("StringEqualsIgnoreCase", ["a"], {"k:k": ("A",)}, True),
        ("StringNotEquals", ["a", "b"], {"k:k": ("c",)}, True),
        ("StringNotEquals", ["a", "b"], {"k:k": ("b",)}, False),  # NOR of the values
        ("StringNotEqualsIgnoreCase", ["a"], {"k:k": ("A",)}, False),
        ("StringLike", ["ord*"], {"k:k": ("orders",)}, True),
        ("StringLike", ["o?ders"], {"k:k": ("orders",)}, True),
        ("StringLike", ["x:*"], {"k:k": ("x:y:z",)}, True),  # strings have no segments
        ("StringNotLike", ["ord*"], {"k:k": ("orders",)}, False),
        ("StringEquals", ["a*"], {"k:k": ("ab",)}, False),  # Equals takes * literally
        ("StringEquals", ["${aws:username}"], {"k:k": ("alice",), "aws:username": ("alice",)}, True),
        ("NumericLessThan", ["10"], {"k:k": ("9",)}, True),
        ("NumericLessThan", ["10"], {"k:k": ("10",)}, False),
        ("NumericLessThanEquals", ["10"], {"k:k": ("10",)}, True),
        ("NumericGreaterThan", ["10"], {"k:k": ("10.5",)}, True),
        ("NumericGreaterThanEquals", ["10"], {"k:k": ("9",)}, False),
        ("NumericEquals", ["3600"], {"k:k": ("3600",)}, True),
        ("NumericNotEquals", ["3600"], {"k:k": ("3600",)}, False),
        ("NumericEquals", ["1"], {"k:k": ("one",)}, False),
        ("DateLessThan", ["2026-12-31T00:00:00Z"], {"k:k": ("2026-12-05T07:45:00Z",)}, True),
        ("DateGreaterThan", ["2026-12-31T00:00:00Z"], {"k:k": ("2026-12-05T07:45:00Z",)}, False),
        ("DateGreaterThanEquals", ["2026-12-05"], {"k:k": ("2026-12-05T00:00:00Z",)}, True),
        ("DateEquals", ["1780000000"], {"k:k": ("1780000000",)}, True),
        ("DateNotEquals", ["2026-12-05T00:00:00Z"], {"k:k": ("2026-12-05T00:00:00+00:00",)}, False),
        ("Bool", ["true"], {"k:k": ("True",)}, True),
        ("Bool", ["true"], {"k:k": ("false",)}, False),
        ("BinaryEquals", ["QmluYXJ5"], {"k:k": ("QmluYXJ5",)}, True),
        ("IpAddress", ["203.0.113.0/24"], {"k:k": ("203.0.113.7",)}, True),
        ("IpAddress", ["203.0.113.0/24"], {"k:k": ("198.51.100.1",)}, False),
        ("IpAddress", ["2001:db8::/32"], {"k:k": ("2001:db8::1",)}, True),
        ("IpAddress", ["2001:db8::/32"], {"k:k": ("203.0.113.7",)}, False),
        ("IpAddress", ["203.0.113.7"], {"k:k": ("203.0.113.7",)}, True),
        ("NotIpAddress", ["203.0.113.0/24"], {"k:k": ("198.51.100.1",)}, True),
        ("ArnEquals", ["arn:aws:sqs:*:123456789012:orders"], {"k:k": SOURCE["aws:sourcearn"]}, True),
        ("ArnLike", ["arn:aws:sqs:us-east-1:123456789012:*"], {"k:k": SOURCE["aws:sourcearn"]}, True),
        ("ArnLike", ["arn:aws:sqs:us-east-1:999999999999:*"], {"k:k": SOURCE["aws:sourcearn"]}, False),
        ("ArnNotLike", ["arn:aws:sqs:us-east-1:999999999999:*"], {"k:k": SOURCE["aws:sourcearn"]}, True),
        (
            "ArnNotEquals",
            ["arn:aws:sqs:us-east-1:123456789012:orders"],
            {"k:k": SOURCE["aws:sourcearn"]},
            False,
        ),
    ],
)
def test_operators(
    operator: str, values: list[str], context: dict[str, tuple[str, ...]], expected: bool
) -> None:
    assert holds(operator, "k:k", values, context) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),
        ("StringLike", False),
        ("NumericLessThan", False),
        ("IpAddress", False),
        ("ArnLike", False),
        ("Bool", False),
        ("StringNotEquals", True),
        ("StringNotLike", True),
        ("NotIpAddress", True),
        ("ArnNotLike", True),
        ("StringEqualsIfExists", True),
        ("ArnLikeIfExists", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAnyValue:StringNotEquals", False),
        ("ForAllValues:StringEquals", True),
        ("ForAllValues:StringNotLike", True),
    ],
)
def test_a_missing_key(operator: str, expected: bool) -> None:
    value = "10.0.0.0/8" if "Ip" in operator else "1" if "Numeric" in operator else "true"
    assert holds(operator, "k:k", [value], {}) is expected


def test_if_exists_still_tests_a_present_key() -> None:
    assert holds("StringEqualsIfExists", "k:k", ["a"], {"k:k": ("a",)})
    assert not holds("StringEqualsIfExists", "k:k", ["a"], {"k:k": ("b",)})


def test_null_tests_presence() -> None:
    assert holds("Null", "k:k", ["true"], {})
    assert not holds("Null", "k:k", ["true"], {"k:k": ("x",)})
    assert holds("Null", "k:k", ["false"], {"k:k": ("x",)})
    assert not holds("Null", "k:k", ["false"], {})


def test_set_qualifiers_over_multivalued_keys() -> None:
    tags = {"aws:tagkeys": ("env", "team")}
    assert holds("ForAnyValue:StringEquals", "aws:TagKeys", ["env"], tags)
    assert not holds("ForAllValues:StringEquals", "aws:TagKeys", ["env"], tags)
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team", "owner"], tags)
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", ["env"], {"aws:tagkeys": ()})
    assert holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"], tags)
    assert not holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["env"], tags)
    # without a qualifier, a positive operator needs one match and a negated one needs none
    assert holds("StringEquals", "aws:TagKeys", ["team"], tags)
    assert not holds("StringNotEquals", "aws:TagKeys", ["team"], tags)


def test_condition_keys_are_case_insensitive() -> None:
    assert holds("StringEquals", "AWS:SourceAccount", ["123"], {"aws:sourceaccount": ("123",)})


@pytest.mark.parametrize(
    "operator", ["StringEqualz", "stringEquals", "NullIfExists", "ForSomeValues:StringEquals", "IfExists"]
)
def test_unknown_operators(operator: str) -> None:
    with pytest.raises(UnknownOperator):
        compile_condition(operator, "k:k", ["a"], variables=False)


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("NumericEquals", "ten"),
        ("DateLessThan", "yesterday"),
        ("IpAddress", "300.1.1.1/8"),
        ("Null", "maybe"),
    ],
)
def test_unreadable_values(operator: str, value: str) -> None:
    with pytest.raises(BadValue):
        compile_condition(operator, "k:k", [value], variables=False)
