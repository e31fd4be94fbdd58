"""Payload format 2.0 (function URLs, HTTP API): the event of a request, and the response a result maps to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambkin import json_depth
from lambkin.events.http.request import (
    TOO_DEEP,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    clf_time,
    cookies_of,
    decode_body,
    encode_body,
    header_pairs,
    joined_headers,
    query_pairs,
    status_of,
)


@dataclass(frozen=True)
class V2Context:
    """Where the request arrived: the API (or function URL) and its domain, route and caller."""

    account_id: str
    api_id: str
    domain_name: str
    domain_prefix: str
    route_key: str = "$default"
    stage: str = "$default"
    path_parameters: Mapping[str, str] | None = None
    authorizer: Mapping[str, Any] | None = None
    stage_variables: Mapping[str, str] | None = None


def build_v2(request: HttpRequest, context: V2Context) -> dict[str, Any]:
    """The payload 2.0 event: cookies apart, headers lower-case and comma-joined, binary bodies base64."""
    headers = joined_headers(request.headers, skip=("cookie",))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": context.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.query_string,
    }
    cookies = cookies_of(request.headers)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = query_pairs(request.query_string)
    if query:
        joined: dict[str, str] = {}
        for key, value in query:
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        event["queryStringParameters"] = joined
    request_context: dict[str, Any] = {
        "accountId": context.account_id,
        "apiId": context.api_id,
        "authentication": None,
    }
    if context.authorizer is not None:
        request_context["authorizer"] = dict(context.authorizer)
    request_context.update(
        {
            "domainName": context.domain_name,
            "domainPrefix": context.domain_prefix,
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": context.route_key,
            "stage": context.stage,
            "time": clf_time(request.time),
            "timeEpoch": int(request.time * 1000),
        }
    )
    event["requestContext"] = request_context
    if request.body:
        event["body"], event["isBase64Encoded"] = encode_body(request.body, headers.get("content-type"))
    else:
        event["isBase64Encoded"] = False
    event["pathParameters"] = dict(context.path_parameters) if context.path_parameters else None
    event["stageVariables"] = dict(context.stage_variables) if context.stage_variables else None
    return event


def map_v2(payload: bytes) -> HttpResponse:
    """The HTTP response for a function's result under payload format 2.0.

    An object with `statusCode` is a response; any other JSON value is a 200 application/json of that JSON;
    a result that is not JSON at all is a 200 with that text.
    """
    try:
        result = json_depth.loads(payload) if payload else None
    except json_depth.TooDeep:  # whether it is a response object cannot be known
        raise MalformedResponse(TOO_DEEP) from None
    except ValueError:
        return HttpResponse(200, (("content-type", "application/json"),), payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        body = payload if payload else b""
        return HttpResponse(200, (("content-type", "application/json"),), body)
    status = status_of(result["statusCode"])
    pairs = header_pairs(result.get("headers"), None)
    cookies = result.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponse("cookies must be a list of strings")
        pairs.extend(("set-cookie", cookie) for cookie in cookies)
    if not any(key.lower() == "content-type" for key, _ in pairs):
        pairs.append(("content-type", "application/json"))
    body = decode_body(result.get("body"), result.get("isBase64Encoded"))
    return HttpResponse(status, tuple(pairs), body)
