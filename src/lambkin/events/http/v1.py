"""Payload format 1.0 (API Gateway REST proxy): the event of a request, and the response a result must be."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lambkin import json_depth
from lambkin.events.http.request import (
    TOO_DEEP,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    clf_time,
    decode_body,
    encode_body,
    header_pairs,
    last_headers,
    multi_headers,
    query_pairs,
    status_of,
)


@dataclass(frozen=True)
class V1Context:
    """The REST API, stage and resource (route path template) the request matched."""

    account_id: str
    api_id: str
    domain_name: str
    resource: str
    stage: str = "$default"
    path_parameters: Mapping[str, str] | None = None
    identity: Mapping[str, Any] | None = None
    stage_variables: Mapping[str, str] | None = None


def build_v1(request: HttpRequest, context: V1Context) -> dict[str, Any]:
    """The REST proxy event: headers and query both single-valued (last wins) and multi-valued."""
    query = query_pairs(request.query_string)
    multi_query: dict[str, list[str]] = {}
    for key, value in query:
        multi_query.setdefault(key, []).append(value)
    headers = last_headers(request.headers)
    path = unquote(request.raw_path)
    identity: dict[str, Any] = {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": request.source_ip,
        "user": None,
        "userAgent": headers.get("user-agent"),
        "userArn": None,
    }
    identity.update(context.identity or {})
    event: dict[str, Any] = {
        "resource": context.resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers(request.headers) or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(context.path_parameters) if context.path_parameters else None,
        "stageVariables": dict(context.stage_variables) if context.stage_variables else None,
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.api_id,
            "domainName": context.domain_name,
            "domainPrefix": context.domain_name.split(".", 1)[0],
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": identity,
            "path": path,
            "protocol": request.protocol,
            "requestId": request.request_id,
            "requestTime": clf_time(request.time),
            "requestTimeEpoch": int(request.time * 1000),
            "resourceId": context.resource,
            "resourcePath": context.resource,
            "stage": context.stage,
        },
        "body": None,
        "isBase64Encoded": False,
    }
    if request.body:
        event["body"], event["isBase64Encoded"] = encode_body(request.body, headers.get("content-type"))
    return event


def map_v1(payload: bytes) -> HttpResponse:
    """The response a 1.0 result must spell out (`statusCode` required, no inference)."""
    try:
        result = json_depth.loads(payload)
    except json_depth.TooDeep:
        raise MalformedResponse(TOO_DEEP) from None
    except ValueError as exc:
        raise MalformedResponse("the result is not JSON") from exc
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("the result has no statusCode")
    status = status_of(result["statusCode"])
    pairs = _merge(
        header_pairs(result.get("headers"), None), header_pairs(None, result.get("multiValueHeaders"))
    )
    body = decode_body(result.get("body"), result.get("isBase64Encoded"))
    return HttpResponse(status, tuple(pairs), body)


def _merge(single: list[tuple[str, str]], multi: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """multiValueHeaders, then the headers map for names it does not already carry."""
    named = {key.lower() for key, _ in multi}
    return multi + [(key, value) for key, value in single if key.lower() not in named]
