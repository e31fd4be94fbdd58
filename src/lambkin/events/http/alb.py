"""ALB Lambda target format, with and without multi-value headers: the event, and the response mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambkin import json_depth
from lambkin.events.http.request import (
    TOO_DEEP,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    decode_body,
    encode_body,
    header_pairs,
    last_headers,
    multi_headers,
    status_of,
)

ALB_LIMIT = 1024 * 1024  # request body and response JSON, each


@dataclass(frozen=True)
class AlbContext:
    target_group_arn: str
    multi_value: bool = False


def build_alb(request: HttpRequest, context: AlbContext) -> dict[str, Any]:
    """The ALB event: single-value maps, or with multi-value headers on, only the multiValue* maps.

    ALB passes query parameters as they were on the wire (still percent-encoded), unlike API Gateway.
    """
    raw_query = _raw_pairs(request.query_string)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": context.target_group_arn}},
        "httpMethod": request.method,
        "path": request.raw_path,
    }
    if context.multi_value:
        multi_query: dict[str, list[str]] = {}
        for key, value in raw_query:
            multi_query.setdefault(key, []).append(value)
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = multi_headers(request.headers)
    else:
        event["queryStringParameters"] = dict(raw_query)
        event["headers"] = last_headers(request.headers)
    content_type = last_headers(request.headers).get("content-type")
    event["body"], event["isBase64Encoded"] = encode_body(request.body, content_type)
    return event


def map_alb(payload: bytes, multi_value: bool) -> HttpResponse:
    """The response of an ALB target: `statusCode` required; headers from the map the mode uses."""
    if len(payload) > ALB_LIMIT:
        raise MalformedResponse("the response is larger than 1 MB")
    try:
        result = json_depth.loads(payload)
    except json_depth.TooDeep:
        raise MalformedResponse(TOO_DEEP) from None
    except ValueError as exc:
        raise MalformedResponse("the result is not JSON") from exc
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("the result has no statusCode")
    status = status_of(result["statusCode"])
    if multi_value:
        pairs = header_pairs(None, result.get("multiValueHeaders"))
    else:
        pairs = header_pairs(result.get("headers"), None)
    body = decode_body(result.get("body"), result.get("isBase64Encoded"))
    return HttpResponse(status, tuple(pairs), body)


def _raw_pairs(query_string: str) -> list[tuple[str, str]]:
    """Query parameters split on & and = but not decoded (ALB hands them on as sent)."""
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((key, value))
    return pairs
