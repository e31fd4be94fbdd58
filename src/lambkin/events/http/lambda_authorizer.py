"""Lambda (REQUEST) authorizers of HTTP APIs: a request's identity sources, the event the authorizer
function gets (payload 2.0 or 1.0), its answer read as allow or deny (a simple response or an IAM policy),
and the answers kept for the authorizer's TTL by identity."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from lambkin import json_depth
from lambkin.events.http.apis import Authorizer
from lambkin.events.http.request import MalformedResponse, query_pairs

CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Verdict:
    """The authorizer's answer: whether the request may go on, and the context it passes to the function."""

    allowed: bool
    context: Mapping[str, Any] = field(default_factory=dict)
    principal_id: str | None = None


def identity(
    sources: Sequence[str],
    headers: Mapping[str, str],
    query_string: str,
    context: Mapping[str, str],
    stage_variables: Mapping[str, str],
) -> list[str] | None:
    """The values of the identity sources (headers by lower-case name, query parameters as given), or None
    when one is missing or empty: then the authorizer is not asked and the client gets 401."""
    query: dict[str, str] = {}
    for key, value in query_pairs(query_string):
        query[key] = f"{query[key]},{value}" if key in query else value
    values = []
    for source in sources:
        kind, _, name = source.removeprefix("$").rpartition(".")
        if kind == "request.header":
            found = headers.get(name.lower())
        elif kind == "request.querystring":
            found = query.get(name)
        elif kind == "context":
            found = context.get(name)
        else:
            found = stage_variables.get(name) if kind == "stageVariables" else None
        if not found:
            return None
        values.append(found)
    return values


def event(
    authorizer: Authorizer, route_arn: str, values: Sequence[str], request_event: dict[str, Any]
) -> bytes:
    """The authorizer's event: for 2.0 the request's 2.0 event (without its body) with `type`, `routeArn`
    and `identitySource`; for 1.0 its 1.0 event with `type`, `methodArn`, `identitySource` and
    `authorizationToken` (the values joined)."""
    shaped = {k: v for k, v in request_event.items() if k not in ("body", "isBase64Encoded")}
    if authorizer.payload_format == "2.0":
        shaped.update({"type": "REQUEST", "routeArn": route_arn, "identitySource": list(values)})
    else:
        shaped.update(
            {
                "type": "REQUEST",
                "methodArn": route_arn,
                "identitySource": ",".join(values),
                "authorizationToken": ",".join(values),
            }
        )
    return json.dumps(shaped, separators=(",", ":")).encode()


def verdict(authorizer: Authorizer, payload: bytes, route_arn: str) -> Verdict:
    """The authorizer function's result read as API Gateway reads it; MalformedResponse when it is neither
    a simple response (with EnableSimpleResponses) nor an IAM policy response."""
    try:
        result = json_depth.loads(payload)
    except ValueError:
        raise MalformedResponse("the authorizer's result is not JSON") from None
    if not isinstance(result, dict):
        raise MalformedResponse("the authorizer's result is not an object")
    context = result.get("context") or {}
    if not isinstance(context, dict):
        raise MalformedResponse("context must be an object")
    if authorizer.simple_responses and "isAuthorized" in result:
        if not isinstance(result["isAuthorized"], bool):
            raise MalformedResponse("isAuthorized must be a boolean")
        return Verdict(result["isAuthorized"], context)
    document = result.get("policyDocument")
    if not isinstance(document, dict) or not isinstance(result.get("principalId"), str):
        raise MalformedResponse("an IAM policy response has principalId and policyDocument")
    return Verdict(_allows(document, route_arn), context, result["principalId"])


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _allows(document: Mapping[str, Any], route_arn: str) -> bool:
    """Whether an authorizer's policy allows execute-api:Invoke on the route's ARN (a Deny wins)."""
    allowed = False
    statements = document.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            raise MalformedResponse("a Statement must be an object")
        actions = _listed(statement.get("Action", []))
        resources = _listed(statement.get("Resource", []))
        if not any(fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatchcase(route_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


class Verdicts:
    """Answers kept by (authorizer, identity) until their TTL runs out (`now` in seconds, monotonic)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str, tuple[str, ...]], tuple[float, Verdict]] = {}

    def get(self, api_id: str, authorizer: Authorizer, values: Sequence[str], now: float) -> Verdict | None:
        if authorizer.ttl_s <= 0:
            return None
        kept = self._kept.get((api_id, authorizer.authorizer_id, tuple(values)))
        if kept is None or kept[0] <= now:
            return None
        return kept[1]

    def put(
        self, api_id: str, authorizer: Authorizer, values: Sequence[str], found: Verdict, now: float
    ) -> None:
        if authorizer.ttl_s <= 0:
            return
        if len(self._kept) >= CACHE_LIMIT:
            self._kept.clear()
        self._kept[(api_id, authorizer.authorizer_id, tuple(values))] = (now + authorizer.ttl_s, found)
