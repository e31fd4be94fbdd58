"""Lambda authorizers of HTTP APIs: identity sources, the authorizer's event, its answer, the answers kept."""

from __future__ import annotations

import json

import pytest

from lambkin.events.http import lambda_authorizer
from lambkin.events.http.apis import Authorizer, BadRequest, check_authorizer
from lambkin.events.http.request import MalformedResponse

ROUTE = "arn:aws:execute-api:us-east-1:000000000000:abc/$default/GET/pets"
SIMPLE = Authorizer("a1", "simple", "REQUEST", ("$request.header.Authorization",), "fn", "2.0", True, 60)
POLICY = Authorizer("a2", "policy", "REQUEST", ("$request.querystring.token",), "fn", "1.0")


def test_identity_sources_and_a_missing_one() -> None:
    headers = {"authorization": "t"}
    found = lambda_authorizer.identity(
        ("$request.header.Authorization", "$request.querystring.k", "$context.routeKey", "$stageVariables.v"),
        headers,
        "k=1&k=2",
        {"routeKey": "GET /pets"},
        {"v": "x"},
    )
    assert found == ["t", "1,2", "GET /pets", "x"]
    assert lambda_authorizer.identity(("$request.querystring.K",), headers, "k=1", {}, {}) is None
    assert lambda_authorizer.identity(("$request.header.X",), {"x": ""}, "", {}, {}) is None


def test_the_authorizers_event_per_payload_format() -> None:
    request = {"version": "2.0", "headers": {"a": "1"}, "body": "secret", "isBase64Encoded": False}
    v2 = json.loads(lambda_authorizer.event(SIMPLE, ROUTE, ["t"], request))
    assert v2["type"] == "REQUEST" and v2["routeArn"] == ROUTE and v2["identitySource"] == ["t"]
    assert "body" not in v2 and v2["headers"] == {"a": "1"}
    v1 = json.loads(lambda_authorizer.event(POLICY, ROUTE, ["t", "u"], {"version": "1.0"}))
    assert v1["methodArn"] == ROUTE and v1["authorizationToken"] == "t,u"


def policy(effect: str, resource: str, action: str = "execute-api:Invoke") -> bytes:
    statement = {"Action": action, "Effect": effect, "Resource": resource}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return json.dumps({"principalId": "u", "policyDocument": document, "context": {"k": 1}}).encode()


def test_simple_and_policy_answers() -> None:
    allowed = lambda_authorizer.verdict(SIMPLE, b'{"isAuthorized": true, "context": {"u": "a"}}', ROUTE)
    assert allowed.allowed and allowed.context == {"u": "a"}
    assert not lambda_authorizer.verdict(SIMPLE, b'{"isAuthorized": false}', ROUTE).allowed
    assert lambda_authorizer.verdict(POLICY, policy("Allow", "arn:aws:execute-api:*:*:abc/*"), ROUTE).allowed
    assert not lambda_authorizer.verdict(
        POLICY, policy("Allow", "arn:aws:execute-api:*:*:other/*"), ROUTE
    ).allowed
    assert not lambda_authorizer.verdict(POLICY, policy("Deny", "*"), ROUTE).allowed
    assert not lambda_authorizer.verdict(POLICY, policy("Allow", "*", "s3:GetObject"), ROUTE).allowed
    for bad in (b"nope", b"[]", b'{"isAuthorized": true}', b'{"isAuthorized": "yes"}'):
        with pytest.raises(MalformedResponse):
            lambda_authorizer.verdict(SIMPLE if b"yes" in bad else POLICY, bad, ROUTE)


def test_answers_are_kept_for_the_ttl_by_identity() -> None:
    kept = lambda_authorizer.Verdicts()
    answer = lambda_authorizer.Verdict(True, {"u": "a"})
    kept.put("api", SIMPLE, ["t"], answer, now=100.0)
    assert kept.get("api", SIMPLE, ["t"], now=159.0) == answer
    assert kept.get("api", SIMPLE, ["other"], now=101.0) is None
    assert kept.get("api", SIMPLE, ["t"], now=160.0) is None
    kept.put("api", POLICY, ["t"], answer, now=100.0)  # TTL 0: never kept
    assert kept.get("api", POLICY, ["t"], now=100.0) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"authorizer_type": "JWT"},
        {"uri": None},
        {"payload_format": "3.0"},
        {"payload_format": "1.0", "simple_responses": True},
        {"ttl_s": 3601},
        {"identity_source": ()},
        {"identity_source": ("$request.body.x",)},
    ],
)
def test_authorizers_an_http_api_refuses(changes: dict[str, object]) -> None:
    fields = {**SIMPLE.to_json(), **changes}
    with pytest.raises(BadRequest):
        check_authorizer(Authorizer.from_json(fields))
