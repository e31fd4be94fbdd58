"""Payload format 2.0: the event fields of §7 and the response mapping rules."""

from __future__ import annotations

import base64
import json

import pytest

from lambkin.events.http.request import HttpRequest, MalformedResponse
from lambkin.events.http.v2 import V2Context, build_v2, map_v2

CONTEXT = V2Context("123456789012", "abc", "abc.lambda-url.us-east-1.localhost", "abc")
T = 1583348638.39  # 04/Mar/2020:19:03:58 +0000


def request(**fields: object) -> HttpRequest:
    defaults: dict[str, object] = {"method": "GET", "raw_path": "/p", "request_id": "rid", "time": T}
    defaults.update(fields)
    return HttpRequest(**defaults)  # type: ignore[arg-type]


def test_every_field_of_a_get() -> None:
    event = build_v2(
        request(
            query_string="a=1&a=2&b=",
            headers=(
                ("Host", "h"),
                ("User-Agent", "ua"),
                ("X-Dup", "1"),
                ("x-dup", "2"),
                ("Cookie", "c=1; d=2"),
            ),
        ),
        CONTEXT,
    )
    assert event == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/p",
        "rawQueryString": "a=1&a=2&b=",
        "cookies": ["c=1", "d=2"],
        "headers": {"host": "h", "user-agent": "ua", "x-dup": "1,2"},
        "queryStringParameters": {"a": "1,2", "b": ""},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "authentication": None,
            "domainName": "abc.lambda-url.us-east-1.localhost",
            "domainPrefix": "abc",
            "http": {
                "method": "GET",
                "path": "/p",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "ua",
            },
            "requestId": "rid",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "isBase64Encoded": False,
        "pathParameters": None,
        "stageVariables": None,
    }


def test_bodies_text_and_binary() -> None:
    text = build_v2(request(body=b'{"a":1}', headers=(("content-type", "application/json"),)), CONTEXT)
    assert text["body"] == '{"a":1}' and text["isBase64Encoded"] is False
    form = build_v2(
        request(body=b"a=1", headers=(("content-type", "application/x-www-form-urlencoded"),)), CONTEXT
    )
    assert form["isBase64Encoded"] is False
    binary = build_v2(request(body=b"\x89PNG", headers=(("content-type", "image/png"),)), CONTEXT)
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x89PNG"
    not_utf8 = build_v2(request(body=b"\xff\xfe", headers=(("content-type", "text/plain"),)), CONTEXT)
    assert not_utf8["isBase64Encoded"] is True


def test_iam_authorizer_and_path_parameters() -> None:
    context = V2Context(
        "1", "api", "d", "d", "GET /x/{id}", "$default", {"id": "7"}, {"iam": {"accessKey": "K"}}
    )
    event = build_v2(request(), context)
    assert event["requestContext"]["authorizer"] == {"iam": {"accessKey": "K"}}
    assert event["routeKey"] == "GET /x/{id}" and event["pathParameters"] == {"id": "7"}


def test_response_object_with_status_code() -> None:
    response = map_v2(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"X-A": "1", "content-type": "text/html"},
                "cookies": ["a=1", "b=2; Secure"],
                "body": "<b>",
            }
        ).encode()
    )
    assert response.status == 201 and response.body == b"<b>"
    assert response.headers == (
        ("X-A", "1"),
        ("content-type", "text/html"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2; Secure"),
    )


def test_base64_body_and_default_content_type() -> None:
    response = map_v2(b'{"statusCode": 200, "body": "AP8=", "isBase64Encoded": true}')
    assert response.body == b"\x00\xff" and response.header("content-type") == "application/json"
    empty = map_v2(b'{"statusCode": 204}')
    assert empty.status == 204 and empty.body == b""


@pytest.mark.parametrize("payload", [b'{"a": 1}', b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_any_other_json_is_a_200_of_that_json(payload: bytes) -> None:
    response = map_v2(payload)
    assert response.status == 200 and response.body == payload
    assert response.header("content-type") == "application/json"


def test_a_result_that_is_not_json_is_a_200_of_that_text() -> None:
    response = map_v2(b"plain words")
    assert response.status == 200 and response.body == b"plain words"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "headers": []},
        {"statusCode": 200, "body": 5},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
    ],
)
def test_malformed_responses(result: dict[str, object]) -> None:
    with pytest.raises(MalformedResponse):
        map_v2(json.dumps(result).encode())


def test_numeric_string_status_and_number_header_values() -> None:
    response = map_v2(b'{"statusCode": "302", "headers": {"location": "/x", "x-n": 5, "x-b": true}}')
    assert response.status == 302
    assert response.header("x-n") == "5" and response.header("x-b") == "true"
