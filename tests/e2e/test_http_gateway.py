"""The API named gateway end to end, at /gateway/: routes set by `lambkin routes` (a client of API Gateway v2's
API, which lets API Gateway invoke the function), each payload format checked."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_http_support import function
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc


@pytest.fixture(scope="module")
def echo(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    handlers_uri = test_images.push("python-handlers", server.registry, tag="v1")
    return function(server, lam, handlers_uri, "gw-echo", "app.echo")


@pytest.fixture(scope="module")
def respond(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    handlers_uri = test_images.push("python-django", server.registry, tag="v1")
    return function(server, lam, handlers_uri, "gw-respond", "respond.handler", Timeout=2)


def routes(server: LambkinServer, *args: str) -> str:
    command = [sys.executable, "-m", "lambkin", "routes", *args, "--data-dir", str(server.data_dir)]
    command += ["--endpoint-url", server.endpoint]
    return subprocess.run(
        command, check=True, capture_output=True, text=True, env=server.environment()
    ).stdout


@pytest.fixture(scope="module")
def wrapped(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    """Returns its event as the body of a response (1.0 and ALB need a statusCode)."""
    handlers_uri = test_images.push("python-django", server.registry, tag="v1")
    return function(server, lam, handlers_uri, "gw-wrapped", "respond.wrapped")


@pytest.fixture(scope="module")
def client(server: LambkinServer, echo: str, respond: str, wrapped: str) -> Iterator[httpx.Client]:
    routes(server, "add", "ANY", "/v2/{proxy+}", echo, "--format", "2.0")
    routes(server, "add", "GET", "/v1/items/{id}", wrapped, "--format", "1.0")
    routes(server, "add", "GET", "/v1/items/special", wrapped, "--format", "1.0")
    routes(server, "add", "POST", "/alb/{proxy+}", wrapped, "--format", "alb")
    routes(server, "add", "POST", "/albmv/{proxy+}", wrapped, "--format", "alb", "--multi-value-headers")
    for fmt in ("1.0", "2.0", "alb"):
        routes(server, "add", "POST", f"/respond/{fmt}", respond, "--format", fmt)
    with httpx.Client(base_url=f"{server.endpoint}/gateway", timeout=120) as opened:
        yield opened


def test_cli_lists_routes_and_no_route_is_404(server: LambkinServer, client: httpx.Client) -> None:
    listed = json.loads(routes(server, "list", "--json"))["routes"]
    found = [{k: v for k, v in r.items() if k not in ("routeId", "integrationId")} for r in listed]
    assert {"method": "GET", "path": "/v1/items/{id}", "function": "gw-wrapped", "qualifier": None,
            "format": "1.0", "multiValueHeaders": False} in found  # fmt: skip
    missing = client.get("/nothing/here")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}


def test_http_api_2_0_event(client: httpx.Client) -> None:
    response = client.post(
        "/v2/a/b%2Fc?x=1&x=2",
        content=b"\x00\x01",
        headers=[("content-type", "image/png"), ("x-dup", "1"), ("x-dup", "2"), ("cookie", "k=v")],
    )
    assert response.status_code == 200
    event = response.json()
    assert event["version"] == "2.0" and event["routeKey"] == "ANY /v2/{proxy+}"
    assert event["rawPath"] == "/v2/a/b%2Fc" and event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["headers"]["x-dup"] == "1,2" and event["cookies"] == ["k=v"]
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["requestContext"]["routeKey"] == "ANY /v2/{proxy+}"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01"


def test_rest_api_1_0_event(client: httpx.Client) -> None:
    response = client.get(
        "/v1/items/42?a=1&a=2&b=x%20y", headers=[("x-dup", "1"), ("x-dup", "2"), ("user-agent", "t/1")]
    )
    event = response.json()
    assert "resource" in event, (response.status_code, response.text[:500])
    assert event["resource"] == "/v1/items/{id}" and event["path"] == "/v1/items/42"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["x-dup"] == "2" and event["multiValueHeaders"]["x-dup"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["pathParameters"] == {"id": "42"} and event["stageVariables"] is None
    context = event["requestContext"]
    assert context["resourcePath"] == "/v1/items/{id}" and context["httpMethod"] == "GET"
    assert context["path"] == "/v1/items/42" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "t/1" and context["accountId"] == "000000000000"
    assert event["body"] is None and event["isBase64Encoded"] is False
    special = client.get("/v1/items/special").json()
    assert special["resource"] == "/v1/items/special" and special["pathParameters"] is None


def test_alb_events_with_and_without_multi_value_headers(client: httpx.Client) -> None:
    headers = [("x-dup", "1"), ("x-dup", "2"), ("content-type", "text/plain")]
    single = client.post("/alb/p?a=1&a=2&e=%20", content=b"hi", headers=headers).json()
    assert single["requestContext"]["elb"]["targetGroupArn"].startswith("arn:aws:elasticloadbalancing:")
    assert single["httpMethod"] == "POST" and single["path"] == "/alb/p"
    assert single["queryStringParameters"] == {"a": "2", "e": "%20"}
    assert single["headers"]["x-dup"] == "2"
    assert "multiValueHeaders" not in single and "multiValueQueryStringParameters" not in single
    assert single["body"] == "hi" and single["isBase64Encoded"] is False

    multi = client.post("/albmv/p?a=1&a=2", content=b"hi", headers=headers).json()
    assert multi["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert multi["multiValueHeaders"]["x-dup"] == ["1", "2"]
    assert "headers" not in multi and "queryStringParameters" not in multi


def ask(client: httpx.Client, fmt: str, asked: dict[str, Any]) -> httpx.Response:
    return client.post(f"/respond/{fmt}", json=asked)


def test_responses_and_failures_per_format(client: httpx.Client) -> None:
    shaped = {
        "statusCode": 201,
        "headers": {"x-a": "1"},
        "multiValueHeaders": {"x-m": ["1", "2"]},
        "body": "ok",
    }
    rest = ask(client, "1.0", {"return": shaped})
    assert (
        rest.status_code == 201 and rest.headers["x-a"] == "1" and rest.headers.get_list("x-m") == ["1", "2"]
    )
    alb_single = ask(client, "alb", {"return": {**shaped, "statusDescription": "201 Created"}})
    assert alb_single.status_code == 201 and alb_single.text == "ok" and "x-m" not in alb_single.headers

    assert ask(client, "2.0", {"return": {"bare": True}}).json() == {"bare": True}
    assert ask(client, "1.0", {"return": {"bare": True}}).status_code == 500  # no inference outside 2.0
    assert ask(client, "alb", {"return": {"bare": True}}).status_code == 502

    for fmt in ("1.0", "2.0"):  # an HTTP API's words, whichever the payload format
        failed = ask(client, fmt, {"raise": "x"})
        assert failed.status_code == 500 and failed.json() == {"message": "Internal Server Error"}
        timed_out = ask(client, fmt, {"sleep": 5})
        assert timed_out.status_code == 503 and timed_out.json() == {"message": "Service Unavailable"}
    alb_error = ask(client, "alb", {"raise": "x"})
    assert alb_error.status_code == 502 and "502 Bad Gateway" in alb_error.text
    assert ask(client, "alb", {"sleep": 5}).status_code == 504
    assert ask(client, "alb", {"size": 1024 * 1024 + 100}).status_code == 502


def test_route_changes_apply_without_restart(server: LambkinServer, client: httpx.Client, echo: str) -> None:
    assert client.get("/fresh").status_code == 404
    routes(server, "add", "GET", "/fresh", echo, "--format", "2.0")
    assert client.get("/fresh").json()["routeKey"] == "GET /fresh"
    by_host = httpx.get(f"{server.endpoint}/fresh", headers={"host": "api.gateway.localhost"}, timeout=120)
    assert by_host.json()["requestContext"]["domainName"] == "api.gateway.localhost"
    routes(server, "remove", "GET", "/fresh")
    assert client.get("/fresh").status_code == 404
