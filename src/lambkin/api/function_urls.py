"""The function URL front door: `<url-id>.lambda-url.<region>.localhost` hosts and `/lambda-url/<url-id>/` paths.

HTTP request → url config → (CORS preflight | SigV4 for AWS_IAM) → payload 2.0 event → Invoker → response
mapped by the 2.0 rules. `HttpInvoker` (resolve, invoke, sort the outcome) serves the route gateway too.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambkin import ids
from lambkin.api.asgi import Receive, Scope, Send, header, read_body
from lambkin.api.authorize import Decider
from lambkin.environments.results import RESPONSE_TOO_LARGE, SANDBOX_TIMEDOUT, FunctionError
from lambkin.events.http import cors
from lambkin.events.http.request import HttpRequest, HttpResponse, MalformedResponse
from lambkin.events.http.v2 import V2Context, build_v2, map_v2
from lambkin.functions.errors import FunctionsError
from lambkin.functions.policies import FunctionPolicies
from lambkin.functions.urls import UrlConfig, UrlService
from lambkin.identity.principals import Principal, anonymous
from lambkin.invoke.concurrency import Throttled
from lambkin.invoke.invoker import Invoker, InvokeRequest
from lambkin.invoke.targets import Resolve
from lambkin.protocol.sigv4 import Incoming, KeyLookup, SignatureError, check_scope, verify

log = logging.getLogger("lambkin.urls")

PAYLOAD_LIMIT = 6_291_456  # the Invoke request quota: the event, and so the HTTP body in it
PATH_PREFIX = "/lambda-url/"
URL_HOST = re.compile(r"^([a-z0-9]{32})\.lambda-url\.([a-z0-9-]+)\.", re.ASCII)
_TOO_LARGE = f"Request must be smaller than {PAYLOAD_LIMIT} bytes for the InvokeFunction operation"


class Result(enum.Enum):
    """How an HTTP-triggered invoke ended, for the front door to word in its own format."""

    OK = "ok"
    FUNCTION_ERROR = "function_error"
    TIMEOUT = "timeout"
    RESPONSE_TOO_LARGE = "response_too_large"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"  # the function is missing, Pending or Failed


@dataclass(frozen=True)
class Invoked:
    result: Result
    payload: bytes = b""


class HttpInvoker:
    """Resolves a function (and alias) and runs one event through the Invoker."""

    def __init__(self, resolve: Resolve, invoker: Invoker) -> None:
        self.resolve = resolve
        self.invoker = invoker

    async def invoke(self, function: str, qualifier: str | None, event: bytes, request_id: str) -> Invoked:
        try:
            target = await self.resolve(function, qualifier)
        except FunctionsError as exc:
            log.info("HTTP invoke of %s:%s refused: %s", function, qualifier, exc.message)
            return Invoked(Result.UNAVAILABLE, exc.message.encode())
        request = InvokeRequest(event, target.invoked_arn, request_id=request_id)
        try:
            done = await self.invoker.invoke(target.version, request)
        except Throttled:
            return Invoked(Result.THROTTLED)
        outcome = done.outcome
        if isinstance(outcome, FunctionError):
            if outcome.error_type == SANDBOX_TIMEDOUT:
                return Invoked(Result.TIMEOUT, outcome.payload)
            if outcome.error_type == RESPONSE_TOO_LARGE:
                return Invoked(Result.RESPONSE_TOO_LARGE, outcome.payload)
            return Invoked(Result.FUNCTION_ERROR, outcome.payload)
        return Invoked(Result.OK, outcome.payload)


def http_request(scope: Scope, raw_path: str, body: bytes, request_id: str) -> HttpRequest:
    """The HttpRequest of an ASGI scope, with the path the event should carry."""
    client = scope.get("client") or ("", 0)
    version = scope.get("http_version", "1.1")
    return HttpRequest(
        method=str(scope.get("method", "GET")).upper(),
        raw_path=raw_path,
        query_string=bytes(scope.get("query_string", b"")).decode("latin-1"),
        headers=forwarded_headers(scope),
        body=body,
        source_ip=str(client[0]),
        protocol=f"HTTP/{version}",
        request_id=request_id,
    )


def forwarded_headers(scope: Scope) -> tuple[tuple[str, str], ...]:
    """The request's headers plus those the AWS front doors add: X-Forwarded-For/-Proto/-Port, X-Amzn-Trace-Id."""
    headers = [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in scope.get("headers", ())]
    present = {k.lower(): v for k, v in headers}
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 80)
    forwarded_for = present.get("x-forwarded-for")
    headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
    headers.append(("x-forwarded-for", f"{forwarded_for}, {client[0]}" if forwarded_for else str(client[0])))
    if "x-forwarded-proto" not in present:
        headers.append(("x-forwarded-proto", str(scope.get("scheme", "http"))))
    if "x-forwarded-port" not in present:
        headers.append(("x-forwarded-port", str(server[1])))
    if "x-amzn-trace-id" not in present:
        headers.append(("x-amzn-trace-id", ids.trace_header().split(";", 1)[0]))
    return tuple(headers)


def wire_path(scope: Scope) -> str:
    raw = scope.get("raw_path") or str(scope.get("path", "/")).encode()
    return bytes(raw).decode("latin-1").split("?", 1)[0]


async def send_response(send: Send, response: HttpResponse, request_id: str) -> None:
    """Sends a mapped response; the length is lambkin's to set, hop-by-hop headers are dropped."""
    skip = {"content-length", "transfer-encoding", "connection"}
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
        for k, v in response.headers
        if k.lower() not in skip
    ]
    headers.append((b"content-length", str(len(response.body)).encode()))
    headers.append((b"x-amzn-requestid", request_id.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _message(status: int, message: str) -> HttpResponse:
    body = json.dumps({"Message": message}).encode()
    return HttpResponse(status, (("content-type", "application/json"),), body)


def url_failure(invoked: Invoked) -> HttpResponse:
    """What a function URL answers when the invoke did not produce a usable response."""
    match invoked.result:
        case Result.TIMEOUT:
            return HttpResponse(504, (("content-type", "text/plain"),), b"Internal Server Error")
        case Result.RESPONSE_TOO_LARGE:
            return _message(
                413, "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
            )
        case Result.THROTTLED:
            return _message(429, "Rate Exceeded.")
        case Result.UNAVAILABLE | Result.FUNCTION_ERROR | Result.OK:
            return HttpResponse(502, (("content-type", "text/plain"),), b"Internal Server Error")


class FunctionUrls:
    """The ASGI app of every function URL on this server, for one account in one region; `keys` knows
    the keys AWS_IAM URLs accept, and `authorizer` whether their caller may lambda:InvokeFunctionUrl
    (its policies, or the function's own in `policies`)."""

    def __init__(
        self,
        region: str,
        account_id: str,
        keys: KeyLookup,
        urls: UrlService,
        invoker: HttpInvoker,
        authorizer: Decider,
        policies: FunctionPolicies,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.keys = keys
        self.urls = urls
        self.invoker = invoker
        self.authorizer = authorizer
        self.policies = policies

    def matches(self, scope: Scope) -> bool:
        if str(scope.get("path", "")).startswith(PATH_PREFIX):
            return True
        return URL_HOST.match((header(scope, b"host") or "").lower()) is not None

    def _target(self, scope: Scope) -> tuple[str, str, str]:
        """(url-id, the path the function sees, domain name) of a request this app matched."""
        path = wire_path(scope)
        host = (header(scope, b"host") or "").split(":", 1)[0].lower()
        found = URL_HOST.match(host + ".")
        if found is not None and not path.startswith(PATH_PREFIX):
            return found.group(1), path, host
        url_id, _, rest = path[len(PATH_PREFIX) :].partition("/")
        domain = f"{url_id}.lambda-url.{self.region}.localhost"
        return url_id, "/" + rest, domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = ids.uuid4()
        url_id, path, domain = self._target(scope)
        config = await self.urls.by_id(url_id) if len(url_id) == 32 else None
        if config is None:
            await send_response(send, _message(403, "Forbidden"), request_id)
            return
        try:
            body = await read_body(receive, PAYLOAD_LIMIT)
        except ValueError:
            await send_response(send, _message(413, _TOO_LARGE), request_id)
            return
        except ConnectionError:
            return
        request = http_request(scope, path, body, request_id)
        response = await self._serve(config, request, scope, domain)
        await send_response(send, response, request_id)

    async def _serve(
        self, config: UrlConfig, request: HttpRequest, scope: Scope, domain: str
    ) -> HttpResponse:
        headers = {k.lower(): v for k, v in request.headers}
        if config.cors is not None and cors.is_preflight(request.method, headers):
            return cors.preflight(config.cors, headers)
        authorizer: dict[str, Any] | None = None
        if config.auth_type == "AWS_IAM":
            try:
                authorizer = self._authorize(config, request, scope)
            except SignatureError as failure:
                return _message(403, "Forbidden" if failure.kind == "missing" else failure.message)
            if authorizer is None:
                return _message(403, "Forbidden")
        elif not self._may_invoke(anonymous(), config, request.source_ip):
            return _message(403, "Forbidden")
        context = V2Context(
            account_id=self.account_id,
            api_id=config.url_id,
            domain_name=domain,
            domain_prefix=config.url_id,
            authorizer=authorizer,
        )
        event = json.dumps(build_v2(request, context), separators=(",", ":")).encode()
        if len(event) > PAYLOAD_LIMIT:
            return _message(413, _TOO_LARGE)
        invoked = await self.invoker.invoke(config.function_name, config.alias, event, request.request_id)
        response = url_failure(invoked)
        if invoked.result is Result.OK:
            try:
                response = map_v2(invoked.payload)
            except MalformedResponse as exc:
                log.info("function URL %s: malformed response: %s", config.url_id, exc)
        if config.cors is not None:
            response = cors.with_cors(response, config.cors, headers.get("origin"))
        return response

    def _may_invoke(self, caller: Principal, config: UrlConfig, source_ip: str) -> bool:
        """Whether the caller (anonymous for AuthType NONE) may invoke the function through its URL: as
        Lambda asks of new URLs, both lambda:InvokeFunctionUrl (with lambda:FunctionUrlAuthType) and
        lambda:InvokeFunction (with lambda:InvokedViaFunctionUrl), by its own policies or the function's.
        A NONE URL is public only once the function's policy grants everyone both."""
        name, alias = config.function_name, config.alias
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}" + (
            f":{alias}" if alias else ""
        )
        policy = self.policies.text(name, alias)
        url_keys = (("lambda:FunctionUrlAuthType", config.auth_type),)
        if self.authorizer.refusal(caller, "lambda:InvokeFunctionUrl", arn, policy, url_keys, source_ip):
            return False
        via_url = (("lambda:InvokedViaFunctionUrl", "true"),)
        return (
            self.authorizer.refusal(caller, "lambda:InvokeFunction", arn, policy, via_url, source_ip) is None
        )

    def _authorize(self, config: UrlConfig, request: HttpRequest, scope: Scope) -> dict[str, Any] | None:
        """Verifies the request's SigV4 signature (service `lambda`) and that its caller may invoke the
        URL; the IAM authorizer block of the event, or None if the caller may not."""
        incoming = Incoming(
            request.method,
            wire_path(scope),
            request.query_string,
            {k.lower(): v for k, v in request.headers},
            request.body,
        )
        verified = verify(incoming, self.keys, datetime.now(UTC))
        check_scope(verified.scope, "lambda", (self.region,))
        caller = verified.caller
        if not isinstance(caller, Principal):
            raise TypeError(f"the caller of a request is a Principal, not {type(caller).__name__}")
        if not self._may_invoke(caller, config, request.source_ip):
            return None
        account = self.account_id
        return {
            "iam": {
                "accessKey": verified.scope.access_key_id,
                "accountId": account,
                "callerId": verified.scope.access_key_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": verified.caller.arn,
                "userId": verified.caller.user_id,
            }
        }
