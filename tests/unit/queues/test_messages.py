"""Message validation, sizes and the MD5 digests the AWS SDKs verify."""

from __future__ import annotations

import pytest

from lambkin.queues.errors import InvalidMessageContents, InvalidParameterValue, MissingParameter
from lambkin.queues.messages import (
    AttributeValue,
    md5_of_attributes,
    md5_of_body,
    message_size,
    validate_attributes,
    validate_body,
)


def test_md5_of_body_is_hex_md5_of_utf8() -> None:
    assert md5_of_body("hello") == "5d41402abc4b2a76b9719d911017c592"


def test_md5_of_attributes_matches_published_vector() -> None:
    # npm aws-md5-of-message-attributes test vector
    assert md5_of_attributes({"attribName1": AttributeValue("String", "attribValue 1")}) == (
        "19e27d4e946b072f3f58da80d94fd778"
    )


def test_md5_of_attributes_sorts_names_and_marks_binary() -> None:
    a = {"b": AttributeValue("Binary", binary_value=b"\x00\x01"), "a": AttributeValue("Number", "1")}
    b = {"a": AttributeValue("Number", "1"), "b": AttributeValue("Binary", binary_value=b"\x00\x01")}
    assert md5_of_attributes(a) == md5_of_attributes(b)
    assert md5_of_attributes(a) != md5_of_attributes(
        {**a, "b": AttributeValue("Binary", binary_value=b"\x00")}
    )
    assert md5_of_attributes({}) is None


def test_body_rules() -> None:
    assert validate_body("ok \U0001f600") == "ok \U0001f600"
    with pytest.raises(MissingParameter):
        validate_body("")
    with pytest.raises(InvalidMessageContents, match="#x0"):
        validate_body("bad\x00")


@pytest.mark.parametrize(
    "name, value",
    [
        ("AWS.reserved", AttributeValue("String", "x")),
        ("a..b", AttributeValue("String", "x")),
        ("ok", AttributeValue("Strin", "x")),
        ("ok", AttributeValue("String", "")),
        ("ok", AttributeValue("Number", "abc")),
        ("ok", AttributeValue("Binary")),
        ("ok", AttributeValue("String", "bad\x00")),
    ],
)
def test_attribute_rules(name: str, value: AttributeValue) -> None:
    with pytest.raises(InvalidParameterValue):
        validate_attributes({name: value})


def test_at_most_ten_attributes_and_sizes_count_names_types_values() -> None:
    many = {f"a{i}": AttributeValue("String", "x") for i in range(11)}
    with pytest.raises(InvalidParameterValue):
        validate_attributes(many)
    validate_attributes({"n": AttributeValue("Number.float", "1.5")})
    assert message_size("abc", {"n": AttributeValue("String", "xy")}) == 3 + 1 + 6 + 2
