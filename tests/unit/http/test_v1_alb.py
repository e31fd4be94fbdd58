"""API Gateway REST (1.0) and ALB target formats: events and response mapping."""

from __future__ import annotations

import json

import pytest

from lambkin.events.http.alb import ALB_LIMIT, AlbContext, build_alb, map_alb
from lambkin.events.http.request import HttpRequest, MalformedResponse
from lambkin.events.http.v1 import V1Context, build_v1, map_v1

HEADERS = (("X-Dup", "1"), ("x-dup", "2"), ("User-Agent", "ua"))


def request(**fields: object) -> HttpRequest:
    defaults: dict[str, object] = {
        "method": "GET",
        "raw_path": "/items/a%20b",
        "query_string": "q=1&q=2&s=x%20y",
        "headers": HEADERS,
        "request_id": "rid",
        "time": 0.0,
    }
    defaults.update(fields)
    return HttpRequest(**defaults)  # type: ignore[arg-type]


def test_v1_event() -> None:
    event = build_v1(
        request(), V1Context("1", "api", "api.gateway.localhost", "/items/{id}", "$default", {"id": "a b"})
    )
    assert (
        event["resource"] == "/items/{id}" and event["path"] == "/items/a b" and event["httpMethod"] == "GET"
    )
    assert event["headers"] == {"x-dup": "2", "user-agent": "ua"}
    assert event["multiValueHeaders"] == {"x-dup": ["1", "2"], "user-agent": ["ua"]}
    assert event["queryStringParameters"] == {"q": "2", "s": "x y"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "s": ["x y"]}
    assert event["pathParameters"] == {"id": "a b"} and event["stageVariables"] is None
    context = event["requestContext"]
    assert (
        context["resourcePath"] == "/items/{id}"
        and context["httpMethod"] == "GET"
        and context["path"] == "/items/a b"
    )
    assert context["requestTime"] == "01/Jan/1970:00:00:00 +0000" and context["requestTimeEpoch"] == 0
    assert context["identity"]["sourceIp"] == "127.0.0.1" and context["identity"]["userAgent"] == "ua"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_v1_without_query_or_headers_has_nulls() -> None:
    event = build_v1(request(query_string="", headers=()), V1Context("1", "api", "d", "/x"))
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["headers"] is None and event["multiValueHeaders"] is None and event["pathParameters"] is None


def test_v1_response_must_be_spelled_out() -> None:
    response = map_v1(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"a": "1", "m": "x"},
                "multiValueHeaders": {"m": ["1", "2"]},
                "body": "b",
            }
        ).encode()
    )
    assert response.headers == (("m", "1"), ("m", "2"), ("a", "1")) and response.body == b"b"
    for payload in (b'{"a": 1}', b'"text"', b"not json"):
        with pytest.raises(MalformedResponse):
            map_v1(payload)


def test_alb_event_single_value() -> None:
    event = build_alb(
        request(body=b"hi", headers=(*HEADERS, ("content-type", "text/plain"))), AlbContext("arn:tg")
    )
    assert event == {
        "requestContext": {"elb": {"targetGroupArn": "arn:tg"}},
        "httpMethod": "GET",
        "path": "/items/a%20b",
        "queryStringParameters": {"q": "2", "s": "x%20y"},
        "headers": {"x-dup": "2", "user-agent": "ua", "content-type": "text/plain"},
        "body": "hi",
        "isBase64Encoded": False,
    }


def test_alb_event_multi_value() -> None:
    event = build_alb(request(), AlbContext("arn:tg", multi_value=True))
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "s": ["x%20y"]}
    assert event["multiValueHeaders"] == {"x-dup": ["1", "2"], "user-agent": ["ua"]}
    assert "headers" not in event and "queryStringParameters" not in event
    assert event["body"] == "" and event["isBase64Encoded"] is False


def test_alb_response_uses_the_map_of_its_mode() -> None:
    result = {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "headers": {"a": "1"},
        "multiValueHeaders": {"m": ["1", "2"]},
    }
    payload = json.dumps(result).encode()
    assert map_alb(payload, multi_value=False).headers == (("a", "1"),)
    assert map_alb(payload, multi_value=True).headers == (("m", "1"), ("m", "2"))


def test_alb_response_limit_and_shape() -> None:
    big = json.dumps({"statusCode": 200, "body": "x" * ALB_LIMIT}).encode()
    with pytest.raises(MalformedResponse):
        map_alb(big, multi_value=False)
    with pytest.raises(MalformedResponse):
        map_alb(b'{"no": "status"}', multi_value=False)
