"""HTTP APIs' records (API Gateway v2): the API, its integrations, routes, stages and deployments, and the
rules each field follows, worded as API Gateway's BadRequestException words them."""

from __future__ import annotations

import dataclasses
import functools
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

ID_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT = "$default"
METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# PayloadFormatVersion: API Gateway's two, and lambkin's own "alb" (the ALB event, with or without
# multi-value headers) for the routes of earlier versions' routes file.
PAYLOAD_FORMATS = ("1.0", "2.0", "alb", "alb-multi-value")
TIMEOUT_MS = (50, 30000)
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "JWT")
_SEGMENT = re.compile(r"^(\{[A-Za-z0-9_.-]+\+?\}|[^{}]+)$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9_$-]{1,128}))?$"
)
_INVOCATION = re.compile(r"^arn:aws:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$")


class ApiError(Exception):
    """A domain error of the HTTP APIs' control plane (its code is the apigatewayv2 model's shape)."""

    code = "BadRequestException"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class BadRequest(ApiError):
    code = "BadRequestException"


class NotFound(ApiError):
    code = "NotFoundException"

    def __init__(self, kind: str, account: str, identifier: str) -> None:
        super().__init__(f"Invalid {kind} identifier specified {account}:{identifier}", ResourceType=kind)


class Conflict(ApiError):
    code = "ConflictException"


class MissingRoute(ApiError):
    """A RouteSettings entry for a route key the API has no route for."""

    code = "NotFoundException"

    def __init__(self, route_key: str) -> None:
        super().__init__(
            f"Unable to find Route by key {route_key} within the provided RouteSettings", ResourceType="Route"
        )


def new_id() -> str:
    """Ten lower-case letters and digits, as API Gateway's identifiers."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(10))


class Record:
    """A record stored as JSON: its fields as a dict, and back."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload,no-any-return]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Api(Record):
    api_id: str
    name: str
    created: float
    protocol_type: str = "HTTP"
    description: str | None = None
    version: str | None = None
    cors: Mapping[str, Any] | None = None
    disable_execute_api_endpoint: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Integration(Record):
    integration_id: str
    integration_type: str
    uri: str
    payload_format: str
    timeout_ms: int = TIMEOUT_MS[1]
    method: str = "POST"
    description: str | None = None

    def function(self) -> tuple[str, str | None]:
        """The function (name, qualifier) this integration invokes."""
        return function_of(self.uri)


@dataclass(frozen=True)
class Route(Record):
    route_id: str
    route_key: str
    target: str | None = None
    authorization_type: str = "NONE"
    authorizer_id: str | None = None
    authorization_scopes: tuple[str, ...] = ()
    operation_name: str | None = None

    @property
    def method(self) -> str:
        return "ANY" if self.route_key == DEFAULT else self.route_key.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return DEFAULT if self.route_key == DEFAULT else self.route_key.split(" ", 1)[1]

    @property
    def integration_id(self) -> str | None:
        return self.target.removeprefix("integrations/") if self.target else None


@dataclass(frozen=True)
class Authorizer(Record):
    """A Lambda (REQUEST) authorizer: the function that decides, what it is given, and how long its
    answer holds for the same identity."""

    authorizer_id: str
    name: str
    authorizer_type: str
    identity_source: tuple[str, ...] = ()
    uri: str | None = None
    payload_format: str = "2.0"
    simple_responses: bool = False
    ttl_s: int = 0
    jwt: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Deployment(Record):
    """A snapshot of the API's routes and integrations, which a stage serves."""

    deployment_id: str
    created: float
    routes: tuple[Mapping[str, Any], ...] = ()
    integrations: tuple[Mapping[str, Any], ...] = ()
    description: str | None = None
    auto_deployed: bool = False
    authorizers: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Stage(Record):
    name: str
    created: float
    updated: float
    auto_deploy: bool = False
    deployment_id: str | None = None
    description: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    default_route_settings: Mapping[str, Any] = field(default_factory=dict)
    route_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def check_route_key(key: str) -> str:
    """The route key as API Gateway keeps it (`$default`, or METHOD and a path of literal, `{name}` and a
    last `{name+}` segments); raises BadRequest."""
    if key == DEFAULT:
        return key
    method, _, path = key.partition(" ")
    if method not in METHODS or not path.startswith("/"):
        raise BadRequest(
            f"Unable to create route {key}: a route key is $default, or an HTTP method "
            f"({', '.join(METHODS)}) and a path that starts with /, as in GET /pets/{{id}}."
        )
    segments = [s for s in path.split("/") if s]
    for index, segment in enumerate(segments):
        if not _SEGMENT.match(segment):
            raise BadRequest(f"Unable to create route {key}: invalid path segment {segment!r}.")
        if segment.endswith("+}") and index != len(segments) - 1:
            raise BadRequest(
                f"Unable to create route {key}: a greedy path variable must be the last segment."
            )
    return key


def check_integration(
    integration_type: str, uri: str | None, payload: str | None, timeout: int | None
) -> None:
    """Raises BadRequest for what an HTTP API does not take (lambkin integrates Lambda functions only)."""
    if integration_type != "AWS_PROXY":
        raise BadRequest(
            f"Unsupported integration type {integration_type}: lambkin serves AWS_PROXY (Lambda)."
        )
    if uri is not None:
        function_of(uri)
    if payload is not None and payload not in PAYLOAD_FORMATS:
        raise BadRequest(f"Invalid PayloadFormatVersion {payload}: must be 1.0 or 2.0.")
    if timeout is not None and not TIMEOUT_MS[0] <= timeout <= TIMEOUT_MS[1]:
        raise BadRequest(
            f"Invalid TimeoutInMillis {timeout}: must be between {TIMEOUT_MS[0]} and {TIMEOUT_MS[1]} ms."
        )


@functools.lru_cache(maxsize=4096)
def function_of(uri: str) -> tuple[str, str | None]:
    """The function (name, qualifier) of an integration URI: a function ARN, its apigateway invocation
    URI, or a plain name (lambkin's routes file); raises BadRequest. (Pure, so remembered: each request
    of a route asks it again.)"""
    found = _INVOCATION.match(uri)
    arn = found.group(1) if found else uri
    matched = _FUNCTION_ARN.match(arn)
    if matched is not None:
        return matched.group(3), matched.group(4)
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?", arn):
        name, _, qualifier = arn.partition(":")
        return name, qualifier or None
    raise BadRequest(f"Invalid IntegrationUri specified {uri}: must be a Lambda function ARN.")


def check_stage_name(name: str) -> None:
    if name != DEFAULT and not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", name):
        raise BadRequest(f"Stage name {name} is invalid: use letters, digits, - and _ (or $default).")


def check_route_settings(settings: Mapping[str, Any]) -> None:
    """Raises BadRequest for a throttle API Gateway does not take (a negative burst or rate)."""
    burst, rate = settings.get("ThrottlingBurstLimit"), settings.get("ThrottlingRateLimit")
    if burst is not None and burst < 0:
        raise BadRequest(f"Invalid ThrottlingBurstLimit {burst}: must be 0 or more.")
    if rate is not None and rate < 0:
        raise BadRequest(f"Invalid ThrottlingRateLimit {rate}: must be 0 or more.")


def check_stage_variables(variables: Mapping[str, str]) -> None:
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
            raise BadRequest(f"Stage variable name {name} is invalid: use letters, digits and _.")
        if not re.fullmatch(r"[A-Za-z0-9\-._~:/?#&=,]{1,2048}", value):
            raise BadRequest(f"Stage variable value {value} of {name} is invalid.")


def check_cors(cors: Mapping[str, Any] | None) -> None:
    if cors is None:
        return
    age = cors.get("MaxAge")
    if age is not None and not -1 <= int(age) <= 86400:
        raise BadRequest(f"Invalid MaxAge {age}: must be between -1 and 86400.")
    if cors.get("AllowCredentials") and "*" in (cors.get("AllowOrigins") or []):
        raise BadRequest("allow-credentials is not supported when allow-origin is *; list the origins.")


def check_authorizer(authorizer: Authorizer) -> None:
    """Raises BadRequest for an authorizer an HTTP API does not take (a Lambda REQUEST one, or JWT)."""
    if authorizer.authorizer_type == "JWT":
        jwt = authorizer.jwt or {}
        if not jwt.get("Issuer") or not jwt.get("Audience"):
            raise BadRequest("JwtConfiguration must have an Issuer and at least one Audience.")
        if len(authorizer.identity_source) != 1 or not authorizer.identity_source[0].startswith("$request."):
            raise BadRequest(
                "A JWT authorizer has one identity source, such as $request.header.Authorization."
            )
        return
    if authorizer.authorizer_type != "REQUEST":
        raise BadRequest(f"Unsupported authorizer type {authorizer.authorizer_type}: REQUEST or JWT.")
    if authorizer.uri is None:
        raise BadRequest("AuthorizerUri is required for a REQUEST authorizer.")
    function_of(authorizer.uri)
    if authorizer.payload_format not in ("1.0", "2.0"):
        raise BadRequest("AuthorizerPayloadFormatVersion must be 1.0 or 2.0 for a REQUEST authorizer.")
    if authorizer.simple_responses and authorizer.payload_format != "2.0":
        raise BadRequest("EnableSimpleResponses is only supported for payload format 2.0.")
    if not 0 <= authorizer.ttl_s <= 3600:
        raise BadRequest("AuthorizerResultTtlInSeconds must be between 0 and 3600.")
    if authorizer.ttl_s and not authorizer.identity_source:
        raise BadRequest("Caching requires at least one identity source.")
    for source in authorizer.identity_source:
        if not re.fullmatch(
            r"\$(request\.header|request\.querystring|context|stageVariables)\.[^\s]+", source
        ):
            raise BadRequest(f"Invalid identity source {source}.")
