"""Function names in every form Lambda accepts, and the qualifier rules."""

from __future__ import annotations

import pytest

from lambkin.functions.errors import FunctionNotFound, InvalidParameterValue
from lambkin.functions.names import QUALIFIER_MISMATCH, Arns, FunctionRef

ARNS = Arns("us-east-1", "123456789012")


@pytest.mark.parametrize(
    ("raw", "qualifier", "expected"),
    [
        ("fn", None, FunctionRef("fn")),
        ("fn:3", None, FunctionRef("fn", "3")),
        ("fn", "live", FunctionRef("fn", "live")),
        ("fn:live", "live", FunctionRef("fn", "live")),
        ("fn", "", FunctionRef("fn")),
        ("123456789012:function:fn", None, FunctionRef("fn")),
        ("123456789012:function:fn:$LATEST", None, FunctionRef("fn", "$LATEST")),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn", None, FunctionRef("fn")),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn:7", None, FunctionRef("fn", "7")),
    ],
)
def test_every_form_names_the_function(raw: str, qualifier: str | None, expected: FunctionRef) -> None:
    assert ARNS.parse(raw, qualifier) == expected


def test_conflicting_qualifiers_are_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match=QUALIFIER_MISMATCH):
        ARNS.parse("fn:1", "2")


def test_other_region_is_unreachable() -> None:
    with pytest.raises(InvalidParameterValue, match="Functions from 'eu-west-1' are not reachable"):
        ARNS.parse("arn:aws:lambda:eu-west-1:123456789012:function:fn")


def test_other_account_is_not_found() -> None:
    with pytest.raises(FunctionNotFound):
        ARNS.parse("arn:aws:lambda:us-east-1:999999999999:function:fn")


def test_unqualified_operations_refuse_a_qualifier() -> None:
    with pytest.raises(InvalidParameterValue):
        ARNS.parse("fn:1", qualified=False)


def test_names_longer_than_64_are_rejected() -> None:
    with pytest.raises(InvalidParameterValue):
        ARNS.parse("f" * 65)


def test_tags_belong_to_unqualified_functions() -> None:
    assert ARNS.parse_resource(ARNS.function("fn")) == "fn"
    with pytest.raises(InvalidParameterValue, match="Tags on function aliases and versions"):
        ARNS.parse_resource(ARNS.qualified("fn", "1"))
