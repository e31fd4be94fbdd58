"""Wildcards and policy variables: the compiled patterns of Action, Resource and the string conditions.

IAM's matching rules, as its documentation gives them:
- `*` matches any run of characters and `?` exactly one; actions match case-insensitively, resources and
  ARNs case-sensitively.
- In an ARN a wildcard stays within its colon-separated segment, except a `*` that ends a segment, which
  "can expand to match beyond the colon boundaries" (so `function:*` matches `function:f:prod`).
- `${key}` (policy variables, Version 2012-10-17 only) is replaced by the value of that request context key,
  `${key, 'default'}` falls back to the default; a key without a value makes the pattern match nothing.
  `${*}`, `${?}` and `${$}` stand for the characters themselves.

Patterns without variables compile to one regular expression at parse time; patterns with variables keep
their tokens and match with a small glob matcher, so evaluation never compiles anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

Context = Mapping[str, tuple[str, ...]]  # request context, keys lower-cased


class Wild(Enum):
    ANY = "*"  # any run of characters
    SEGMENT = "[^:]*"  # any run of characters within an ARN segment
    ONE = "?"  # any one character
    SEGMENT_ONE = "[^:]"  # any one character but a colon


@dataclass(frozen=True, slots=True)
class Var:
    """`${key}` or `${key, 'default'}`: the key lower-cased."""

    key: str
    default: str | None = None


Literal = str | Var  # a template without wildcards: text and variables
Token = str | Wild | Var

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_LITERAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


def template(text: str, *, variables: bool) -> tuple[Literal, ...]:
    """A value whose wildcards are literal characters (StringEquals, ArnEquals' partner keys, ...)."""
    return tuple(token for token in _scan(text, variables=variables) if not isinstance(token, Wild))


def tokenize(text: str, *, variables: bool, arn: bool) -> tuple[Token, ...]:
    """The tokens of a pattern. `arn`: wildcards are segment-bound as in a resource ARN."""
    return tuple(_scan(text, variables=variables, wildcards=True, arn=arn))


def _scan(text: str, *, variables: bool, wildcards: bool = False, arn: bool = False) -> list[Token]:
    tokens: list[Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    pos = 0
    while pos < len(text):
        char = text[pos]
        found = _VARIABLE.match(text, pos) if variables and char == "$" else None
        if found is not None:
            inner = found.group(1).strip()
            if inner in _LITERAL_VARIABLES:
                literal.append(_LITERAL_VARIABLES[inner])
            else:
                flush()
                default = _DEFAULT.match(inner)
                tokens.append(Var(default[1].lower(), default[2]) if default else Var(inner.lower()))
            pos = found.end()
            continue
        if wildcards and char == "*":
            flush()
            ends_segment = not arn or pos + 1 == len(text) or text[pos + 1] == ":"
            tokens.append(Wild.ANY if ends_segment else Wild.SEGMENT)
        elif wildcards and char == "?":
            flush()
            tokens.append(Wild.SEGMENT_ONE if arn else Wild.ONE)
        else:
            literal.append(char)
        pos += 1
    flush()
    return tokens


def _regex(tokens: Sequence[Token]) -> str:
    """The regex of tokens without variables (`.` matches newlines too: the pattern compiles with DOTALL)."""
    return "".join(
        re.escape(token)
        if isinstance(token, str)
        else ".*"
        if token is Wild.ANY
        else "."
        if token is Wild.ONE
        else token.value
        for token in tokens
        if not isinstance(token, Var)
    )


def resolve(var: Var, context: Context) -> str | None:
    """A variable's value: the key's single value, else its default, else None."""
    values = context.get(var.key)
    if values is not None and len(values) == 1:
        return values[0]
    return var.default


def glob(tokens: Sequence[Token], text: str, context: Context, *, fold: bool = False) -> bool:
    """Whether `text` matches the tokens, variables resolved from `context` (`fold`: ignore case)."""
    resolved: list[str | Wild] = []
    for token in tokens:
        if isinstance(token, Var):
            value = resolve(token, context)
            if value is None:
                return False
            resolved.append(value.lower() if fold else value)
        else:
            resolved.append(token.lower() if fold and isinstance(token, str) else token)
    return _glob(resolved, 0, text.lower() if fold else text, 0)


def _glob(tokens: Sequence[str | Wild], i: int, text: str, j: int) -> bool:
    while i < len(tokens):
        token = tokens[i]
        if isinstance(token, str):
            if not text.startswith(token, j):
                return False
            j += len(token)
        elif token is Wild.ONE or token is Wild.SEGMENT_ONE:
            if j >= len(text) or (token is Wild.SEGMENT_ONE and text[j] == ":"):
                return False
            j += 1
        else:
            stop = len(text) if token is Wild.ANY else _segment_end(text, j)
            return any(_glob(tokens, i + 1, text, k) for k in range(j, stop + 1))
        i += 1
    return j == len(text)


def _segment_end(text: str, start: int) -> int:
    colon = text.find(":", start)
    return len(text) if colon < 0 else colon


@dataclass(frozen=True, slots=True)
class PatternSet:
    """Several patterns, any of which may match: Action, Resource, a StringLike's values."""

    everything: bool  # one of them is a bare "*"
    regex: re.Pattern[str] | None  # the patterns without variables, as one alternation
    templates: tuple[tuple[Token, ...], ...]  # the patterns with variables
    fold: bool  # case-insensitive

    def matches(self, text: str, context: Context) -> bool:
        if self.everything:
            return True
        if self.regex is not None and self.regex.fullmatch(text) is not None:
            return True
        return any(glob(tokens, text, context, fold=self.fold) for tokens in self.templates)


def compile_patterns(patterns: Sequence[str], *, variables: bool, arn: bool, fold: bool) -> PatternSet:
    """Compile patterns once: a bare "*" matches everything, the rest become a regex or templates."""
    everything = False
    plain: list[str] = []
    templates: list[tuple[Token, ...]] = []
    for pattern in patterns:
        if pattern == "*":
            everything = True
            continue
        tokens = tokenize(pattern, variables=variables, arn=arn)
        if any(isinstance(token, Var) for token in tokens):
            templates.append(tokens)
        else:
            plain.append(_regex(tokens))
    flags = re.DOTALL | (re.IGNORECASE if fold else 0)
    regex = re.compile("|".join(f"(?:{p})" for p in plain), flags) if plain else None
    return PatternSet(everything, regex, tuple(templates), fold)


def substitute(literal: Sequence[Literal], context: Context) -> str | None:
    """A template as text, variables resolved (None when one has no value)."""
    out: list[str] = []
    for token in literal:
        value = resolve(token, context) if isinstance(token, Var) else token
        if value is None:
            return None
        out.append(value)
    return "".join(out)
