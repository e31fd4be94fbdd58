"""JSON from outside is measured before it is decoded: what nests deeper than MAX_DEPTH is refused, whatever
the brackets inside its strings, and everything else reads exactly as json.loads reads it."""

from __future__ import annotations

import json

import pytest

from lambkin import json_depth
from lambkin.json_depth import MAX_DEPTH, TooDeep, too_deep


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2, {"b": null}], "c": "x"}',
        nested(MAX_DEPTH),
        '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH,
        json.dumps(["[" * 5000, "{" * 5000]),  # brackets in strings are text
        json.dumps([{"k": i} for i in range(2000)]),  # wide, not deep
        json.dumps(['\\"[[[' * 1000]),  # escaped quotes do not end a string
    ],
)
def test_what_is_not_too_deep_reads_as_json_loads_reads_it(text: str) -> None:
    assert json_depth.loads(text) == json.loads(text)
    assert json_depth.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        nested(MAX_DEPTH + 1),
        nested(100_000),
        '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
        '["x", ' + nested(MAX_DEPTH + 1) + "]",
        "[" * 100_000,  # not JSON either: refused before the decoder would recurse into it
    ],
)
def test_what_nests_deeper_than_the_limit_is_refused_before_decoding(text: str) -> None:
    with pytest.raises(TooDeep, match="nesting depth exceeds the maximum allowed"):
        json_depth.loads(text)
    with pytest.raises(ValueError):
        json_depth.loads(text.encode())


def test_a_caller_may_ask_for_a_lower_limit() -> None:
    assert not too_deep(nested(3), 3)
    assert too_deep(nested(4), 3)
    assert not too_deep(json.dumps({"a": "[[[[[[["}), 3)


def test_invalid_json_that_is_shallow_is_the_decoder_s_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        json_depth.loads('{"a": ')
