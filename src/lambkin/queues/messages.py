"""Message contents: attribute values, validation of bodies and attributes, sizes, and the MD5 digests."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from lambkin.queues.errors import InvalidMessageContents, InvalidParameterValue, MissingParameter

MAX_ATTRIBUTES = 10
# Everything outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF.
_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Alphanumeric, "_", "-" and "."; SQS takes the Latin letters with accents (U+00C0-U+017F: "Größe") as well.
_ATTRIBUTE_NAME = re.compile("^[A-Za-z0-9_\\-.\u00c0-\u017f]{1,256}$")
_DATA_TYPE = re.compile(r"^(String|Number|Binary)(\.[^\s]{1,256})?$")
_SYSTEM_ATTRIBUTES = {"AWSTraceHeader"}


@dataclass(frozen=True)
class AttributeValue:
    """One message attribute: a data type (String, Number, Binary, each with an optional .label)."""

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def is_binary(self) -> bool:
        return self.data_type.startswith("Binary")

    def size(self, name: str) -> int:
        value = self.binary_value if self.is_binary else (self.string_value or "").encode()
        return len(name.encode()) + len(self.data_type.encode()) + len(value or b"")

    def to_json(self) -> list[str]:
        if self.is_binary:
            return [self.data_type, "B", base64.b64encode(self.binary_value or b"").decode()]
        return [self.data_type, "S", self.string_value or ""]

    @classmethod
    def from_json(cls, raw: list[str]) -> AttributeValue:
        data_type, kind, value = raw
        if kind == "B":
            return cls(data_type, binary_value=base64.b64decode(value))
        return cls(data_type, string_value=value)


Attributes = Mapping[str, AttributeValue]


def validate_body(body: str | None) -> str:
    if not body:
        raise MissingParameter("The request must contain the parameter MessageBody.")
    bad = _FORBIDDEN.search(body)
    if bad is not None:
        raise InvalidMessageContents(_bad_character(bad.group(), "message body"))
    return body


def _bad_character(character: str, where: str) -> str:
    return (
        f"Invalid binary character '#x{ord(character):X}' was found in the {where}, the set of allowed "
        "characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
    )


def validate_attributes(attributes: Attributes, system: bool = False) -> None:
    kind = "system attribute" if system else "attribute"
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10]."
        )
    for name, value in attributes.items():
        if system and name not in _SYSTEM_ATTRIBUTES:
            raise InvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
        if not system and not _valid_name(name):
            raise InvalidParameterValue(f"Message (user) attribute name '{name}' is invalid.")
        if not _DATA_TYPE.match(value.data_type or ""):
            raise InvalidParameterValue(
                f"The type of message (user) {kind} '{name}' is invalid. You must use only the following "
                "supported type prefixes: Binary, Number, String."
            )
        if value.is_binary:
            present = value.binary_value is not None and len(value.binary_value) > 0
        else:
            present = bool(value.string_value)
        if not present:
            raise InvalidParameterValue(
                f"Message (user) {kind} '{name}' must contain a non-empty value of message attribute "
                f"type '{value.data_type.split('.')[0]}'."
            )
        if value.data_type.startswith("Number") and not _is_number(value.string_value or ""):
            raise InvalidParameterValue(f"Could not cast message attribute '{name}' value to number.")
        bad = None if value.is_binary else _FORBIDDEN.search(value.string_value or "")
        if bad is not None:  # a string value has the body's characters, but a bad one is a bad parameter
            raise InvalidParameterValue(_bad_character(bad.group(), "message attribute value"))


def message_size(body: str, attributes: Attributes) -> int:
    size = len(body.encode())
    if attributes:
        size += sum(value.size(name) for name, value in attributes.items())
    return size


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: Attributes) -> str | None:
    """MD5OfMessageAttributes as the AWS SDKs compute it; None when there are no attributes."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes, key=lambda n: n.encode("utf-16-be")):
        value = attributes[name]
        _update(digest, name.encode())
        _update(digest, value.data_type.encode())
        if value.is_binary:
            digest.update(b"\x02")
            _update(digest, value.binary_value or b"")
        else:
            digest.update(b"\x01")
            _update(digest, (value.string_value or "").encode())
    return digest.hexdigest()


def _update(digest: hashlib._Hash, data: bytes) -> None:
    digest.update(struct.pack(">I", len(data)))
    digest.update(data)


def _valid_name(name: str) -> bool:
    lowered = name.lower()
    return (
        bool(_ATTRIBUTE_NAME.match(name))
        and not lowered.startswith(("aws.", "amazon."))
        and ".." not in name
        and not name.startswith(".")
        and not name.endswith(".")
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
