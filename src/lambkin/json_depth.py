"""JSON from outside (requests, function results, policies) read without ever recursing near Python's limit.

The standard decoder recurses once per level of nesting and raises RecursionError when it runs out of stack.
Catching that is not enough: while the stack is that deep, a garbage collection may run some unrelated
object's finalizer, which then fails for want of stack too. So the depth is measured first, without
recursion, and a document nested deeper than MAX_DEPTH is refused (`TooDeep`, a ValueError) before the
decoder sees it.

Measuring costs two `bytes.count` calls for any document with at most MAX_DEPTH brackets; beyond that,
strings are blanked and the running depth is taken over the brackets left, all in C.
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate, count
from typing import Any

MAX_DEPTH = 500
"""The deepest nesting read: far beyond any document a service exchanges, far below the stack's limit."""

TOO_DEEP = "nesting depth exceeds the maximum allowed"
"""Why a document nested deeper than MAX_DEPTH is not read."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # depth after k brackets: sum(steps) - k


class TooDeep(ValueError):
    """A document nested deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(TOO_DEEP)


def too_deep(document: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """Whether any point of `document` (JSON, or something that will fail as JSON) nests deeper than `limit`.

    Brackets inside strings do not count; a document that is not JSON may be judged too deep where the
    decoder would have found another fault first."""
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    steps = _STRING.sub(b"", data).translate(_STEP, _NOT_BRACKETS)
    return max(map(operator.sub, accumulate(steps), count(1)), default=0) > limit


def loads(document: bytes | str) -> Any:
    """`json.loads`, refusing (TooDeep) what nests deeper than MAX_DEPTH instead of recursing into it."""
    if too_deep(document):
        raise TooDeep()
    return json.loads(document)
