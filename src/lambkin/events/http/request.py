"""What every HTTP event format is built from and mapped back to: the request, the response, body encoding.

HttpRequest  ──build_v2 / build_v1 / build_alb──▶  event dict  ──invoke──▶  payload
payload      ──map_v2 / map_v1 / map_alb──────▶  HttpResponse, or MalformedResponse
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

# Content types whose UTF-8 bodies travel as text; anything else is base64 with isBase64Encoded true.
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/graphql",
)
_TEXT_SUFFIXES = ("+json", "+xml")


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as it reached the front door (path and query raw, header names as sent)."""

    method: str
    raw_path: str
    query_string: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    request_id: str = ""
    time: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


@dataclass(frozen=True)
class HttpResponse:
    """What the front door sends back: status, headers in order (repeats allowed), body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


class MalformedResponse(ValueError):
    """The function's result does not fit the format's response shape (the services answer 502)."""


TOO_DEEP = "the result is JSON nested deeper than can be read"


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(_TEXT_SUFFIXES)


def encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """The event's (body, isBase64Encoded): text bodies as they are, binary ones base64."""
    if is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def decode_body(body: Any, base64_encoded: Any) -> bytes:
    """A response's body member as bytes; raises MalformedResponse for a non-string or bad base64."""
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    if base64_encoded is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponse("body is not valid base64") from exc
    return body.encode("utf-8")


def joined_headers(headers: Iterable[tuple[str, str]], *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Header names in lower case, repeated headers joined with commas."""
    out: dict[str, str] = {}
    for key, value in headers:
        name = key.lower()
        if name in skip:
            continue
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def multi_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in headers:
        out.setdefault(key.lower(), []).append(value)
    return out


def last_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names in lower case, the last value of a repeated header (REST API 1.0 and ALB)."""
    return {key.lower(): value for key, value in headers}


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    return parse_qsl(query_string, keep_blank_values=True)


def cookies_of(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The Cookie header(s) split into `name=value` strings."""
    found: list[str] = []
    for key, value in headers:
        if key.lower() == "cookie":
            found.extend(part.strip() for part in value.split(";") if part.strip())
    return found


def clf_time(epoch: float) -> str:
    """`12/Mar/2020:19:03:58 +0000`, the requestContext.time of API Gateway and function URLs."""
    return _clf_second(int(epoch))


@functools.lru_cache(maxsize=4)
def _clf_second(second: int) -> str:  # formatted once per second, not once per request
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))


def status_of(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponse("statusCode must be a number")
    try:
        status = int(value)
    except ValueError as exc:
        raise MalformedResponse("statusCode must be a number") from exc
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status")
    return status


def header_pairs(single: Any, multi: Any) -> list[tuple[str, str]]:
    """A response's headers and multiValueHeaders as pairs; raises MalformedResponse for wrong shapes."""
    pairs: list[tuple[str, str]] = []
    if single is not None:
        if not isinstance(single, Mapping):
            raise MalformedResponse("headers must be an object")
        pairs.extend((str(k), _text(v)) for k, v in single.items())
    if multi is not None:
        if not isinstance(multi, Mapping):
            raise MalformedResponse("multiValueHeaders must be an object")
        for key, values in multi.items():
            if not isinstance(values, list):
                raise MalformedResponse("multiValueHeaders values must be lists")
            pairs.extend((str(key), _text(v)) for v in values)
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponse("header values must be strings")
