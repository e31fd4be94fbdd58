"""AwsGateway: the engine of every AWS API — route, verify, parse, validate, call a handler, serialize.

It reads no sockets: its faces (api/front_door.py, api/aws_asgi.py) bring a request's head to `route()`,
its body to `answer()`, and write the reply.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from botocore.model import OperationModel

from lambkin import ids
from lambkin.protocol import dialect, eventstream, serialize
from lambkin.protocol.errors import AwsError, DomainError
from lambkin.protocol.legacy import query_model
from lambkin.protocol.model import ServiceIndex, service_index, wire_protocol
from lambkin.protocol.parse import ParseError, parse_json, parse_rest_json
from lambkin.protocol.query import parse_query
from lambkin.protocol.service import Authorize, Handler, Relay, Relayer, RequestContext, Services
from lambkin.protocol.sigv4 import (
    Incoming,
    KeyLookup,
    SignatureError,
    Verified,
    check_scope,
    claimed_scope,
    verify,
)
from lambkin.protocol.validate import validate

log = logging.getLogger("lambkin.protocol")

_OFFLOAD_BYTES = 256 * 1024  # hash bodies larger than this off the event loop


@dataclass(slots=True)
class ApiRequest:
    """An AWS API request's head, as it arrived."""

    method: str
    raw_path: str  # percent-encoded, without the query
    query_string: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ","
    source_ip: str


def api_request(method: str, target: str, headers: Mapping[str, str], source_ip: str) -> ApiRequest:
    """An ApiRequest from its method, request target (path?query) and lower-cased headers."""
    raw_path, _, query_string = target.partition("?")
    return ApiRequest(
        method=method.upper(),
        raw_path=raw_path,
        query_string=query_string,
        query=parse_qs(query_string, keep_blank_values=True) if query_string else {},
        headers=headers,
        source_ip=source_ip,
    )


@dataclass(slots=True)
class Routed:
    """A request whose head is read: the service and protocol it speaks, its operation if the head names
    one, and how large its body may be."""

    request: ApiRequest
    request_id: str
    index: ServiceIndex
    protocol: str
    operation: OperationModel | None
    labels: Mapping[str, str]
    body_limit: int
    accepts_json: bool = False  # a query-protocol request (SQS's) that asks for a JSON answer


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AwsGateway:
    """Serves the AWS APIs of the services it is given, each driven by its botocore model, for one account
    whose keys `keys` knows, in one region; `authorize` (if given) decides whether the caller may do what
    it asks."""

    def __init__(
        self,
        services: Services,
        account_id: str,
        keys: KeyLookup,
        authorize: Authorize | None = None,
        now: Callable[[], datetime] = _utcnow,
        region: str = "us-east-1",
        relayer: Relayer | None = None,
    ) -> None:
        self.services = services
        self.relayer = relayer
        self.region = region
        self.account_id = account_id
        self.keys = keys
        self.authorize = authorize
        self.now = now
        self.indexes: dict[str, ServiceIndex] = {name: service_index(name) for name in services}
        self._signed_for = {index.signing_name: index for index in self.indexes.values()}
        self._query_ops: dict[str, dict[str, OperationModel]] = {}
        for name, index in self.indexes.items():
            if index.query_compatible:
                model = query_model(name)
                self._query_ops[name] = {op: model.operation_model(op) for op in model.operation_names}
            elif index.protocol == "query":
                self._query_ops[name] = index.operations

    def route(self, request: ApiRequest) -> Routed:
        """Which service, protocol and operation a request's head names, and its body limit."""
        request_id = ids.uuid4()
        index, protocol = self._pick(request)
        operation: OperationModel | None = None
        labels: Mapping[str, str] = {}
        if protocol == "rest-json":
            match = index.route(request.method, request.raw_path, request.query)
            if match is not None:
                operation, labels = match.operation, match.labels
        elif protocol == "json":
            operation = index.by_target(request.headers.get("x-amz-target", ""))
        limit = dialect.body_limit(index.name, operation.name if operation else None)
        accepts_json = (
            protocol == "query"
            and index.query_compatible
            and "application/json" in request.headers.get("accept", "")
        )
        return Routed(request, request_id, index, protocol, operation, labels, limit, accepts_json)

    async def answer(self, routed: Routed, body: bytes | None) -> serialize.Reply:
        """The reply to a routed request whose whole body is `body` (None: it was larger than its limit).
        Never raises: failures are AWS-shaped error replies; a stream's failure ends the stream."""
        index, protocol, request_id = routed.index, routed.protocol, routed.request_id
        try:
            if body is None:
                operation = routed.operation.name if routed.operation else None
                raise dialect.too_large(index.name, operation, routed.body_limit)
            reply = await self._serve(routed, body)
        except AwsError as failure:
            reply = serialize.error(index, protocol, failure, request_id, routed.accepts_json)
        except Exception:
            request = routed.request
            log.exception("%s %s failed (request %s)", request.method, request.raw_path, request_id)
            internal = dialect.internal(index.name, request_id)
            reply = serialize.error(index, protocol, internal, request_id, routed.accepts_json)
        reply.headers.append(("x-amzn-requestid", request_id))
        if reply.stream is not None:
            return dataclasses.replace(reply, stream=eventstream.guarded(reply.stream, request_id))
        return reply

    def _pick(self, request: ApiRequest) -> tuple[ServiceIndex, str]:
        """The service (by SigV4 scope, X-Amz-Target, form or path) and the protocol it is spoken in: a
        query-protocol service (IAM, STS) is told apart by its scope, as AWS tells them apart by host."""
        target = request.headers.get("x-amz-target")
        scope = claimed_scope(request.headers, request.query)
        index = self._signed_for.get(scope.service) if scope else None
        if scope is not None and index is None:
            named = self._named(request, target)
            if named is not None:  # signed for another service than the one it calls: verify() refuses it
                return named, "query" if named.query_compatible and not target else named.protocol
            # a service lambkin does not serve: its error in its protocol
            fallback = self.indexes.get("lambda") or next(iter(self.indexes.values()))
            return fallback, wire_protocol(scope.service)
        if index is None and target:
            index = next((i for i in self.indexes.values() if target.startswith(i.target_prefix + ".")), None)
        if index is None and (
            "Action" in request.query
            or request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        ):
            index = next((i for i in self.indexes.values() if i.query_compatible), None)
        if index is None:
            index = self.indexes.get("lambda") or next(iter(self.indexes.values()))
        if index.query_compatible and not target:
            return index, "query"
        return index, index.protocol

    def _named(self, request: ApiRequest, target: str | None) -> ServiceIndex | None:
        """The served service a request names by its X-Amz-Target or its REST path, whatever its signature
        claims (None: it names none)."""
        if target:
            return next((i for i in self.indexes.values() if target.startswith(i.target_prefix + ".")), None)
        for index in self.indexes.values():
            if index.protocol == "rest-json" and index.route(request.method, request.raw_path, request.query):
                return index
        return None

    async def _serve(self, routed: Routed, body: bytes) -> serialize.Reply:
        request, index, protocol, request_id = (
            routed.request,
            routed.index,
            routed.protocol,
            routed.request_id,
        )
        name, operation, labels = index.name, routed.operation, routed.labels
        scope = claimed_scope(request.headers, request.query)
        if (
            scope is not None
            and scope.service not in self._signed_for
            and self._named(request, request.headers.get("x-amz-target")) is None
        ):
            raise dialect.not_served(scope.service, sorted(self._signed_for))
        incoming = Incoming(request.method, request.raw_path, request.query_string, request.headers, body)
        try:
            verified = await self.verify(incoming, index.signing_name)
        except SignatureError as refused:  # (each `as` its own name: mypyc types a name once)
            raise dialect.auth_error(refused) from None
        try:
            if protocol == "query":
                params = _form(request, body)
                action = params.get("Action", "")
                if not action and name == "sqs":  # as SQS answers a request that names no action
                    return serialize.Reply(
                        404, [("content-type", "text/xml")], b"<UnknownOperationException/>"
                    )
                operation = self._query_ops[name].get(action)
                if operation is None or not _fits_path(name, operation, request):
                    raise dialect.unknown_operation(name, protocol, action or "(none)")
                arguments = parse_query(operation.input_shape, params)
                _queue_url_from_path(operation, arguments, request)
            elif operation is None:
                what = request.headers.get("x-amz-target") or f"{request.method} {request.raw_path}"
                raise dialect.unknown_operation(name, protocol, what)
            elif protocol == "json":
                arguments = parse_json(operation, body)
            else:
                arguments = parse_rest_json(operation, labels, request.query, request.headers, body)
        except ParseError as failure:
            raise dialect.parse_error(name, str(failure)) from None
        handler = self.services.get(name, {}).get(operation.name)
        if handler is None:
            raise dialect.not_implemented(name, operation.name)
        problems = dialect.enforced(name, validate(operation.input_shape, arguments))
        if problems:
            raise dialect.invalid_input(name, problems)
        context = RequestContext(
            service=name,
            operation=operation.name,
            region=verified.scope.region,
            account_id=self.account_id,
            access_key_id=verified.scope.access_key_id,
            caller=verified.caller,
            request_id=request_id,
            headers=request.headers,
            source_ip=request.source_ip,
            relayed_by=None
            if self.relayer is None
            else self.relayer.relayed_by(request.method, request.raw_path, request.headers),
        )
        relayed: Relay | None = None
        try:
            output = await self.call(handler, arguments, context)
        except Relay as relay:
            relayed = relay  # awaited outside the except block (lambkin.compiled: a compiled coroutine)
        if relayed is not None:
            return await self._relay(relayed, request, body, context)
        if routed.accepts_json:
            return serialize.query_json(operation, output, request_id)
        return _render(index, protocol, operation, output, request_id)

    async def _relay(
        self, relay: Relay, request: ApiRequest, body: bytes, context: RequestContext
    ) -> serialize.Reply:
        """The reply of the node that owns the work, to the request as it arrived here (once: a relayed
        request is never relayed again)."""
        if self.relayer is None or context.relayed_by is not None:
            log.error("%s.%s: relayed twice or nowhere to relay", context.service, context.operation)
            raise dialect.unavailable(context.service, "The request could not be served here; retry it.")
        target = request.raw_path + (f"?{request.query_string}" if request.query_string else "")
        try:
            return await self.relayer.relay(relay.url, request.method, target, request.headers, body)
        except Exception as failure:
            if isinstance(failure, DomainError):
                raise dialect.domain(context.service, failure) from failure
            raise

    async def verify(self, incoming: Incoming, service: str) -> Verified:
        """Who signed `incoming`, for `service` (its signing name) in this gateway's region; raises
        SignatureError."""
        if len(incoming.body) > _OFFLOAD_BYTES:
            verified = await asyncio.to_thread(verify, incoming, self.keys, self.now())
        else:
            verified = verify(incoming, self.keys, self.now())
        # IAM's and STS's global endpoints take requests signed for us-east-1 as well
        regions = (self.region, "us-east-1") if service in dialect.QUERY_SERVICES else (self.region,)
        check_scope(verified.scope, service, regions)
        return verified

    async def call(
        self, handler: Handler, arguments: dict[str, Any], context: RequestContext
    ) -> dict[str, Any]:
        """The handler's output for valid `arguments`, once `authorize` lets the caller: a refusal or a
        domain error is raised as the service's AwsError, any other failure as its internal error."""
        try:
            if self.authorize is not None:
                self.authorize(context, arguments)
            return await handler(arguments, context)
        except (AwsError, Relay):
            raise
        except Exception as failure:
            service = context.service
            if isinstance(failure, DomainError):  # domain errors become AWS errors here, and only here
                raise dialect.domain(service, failure) from failure
            log.exception("%s.%s failed (request %s)", service, context.operation, context.request_id)
            raise dialect.internal(service, context.request_id) from None


def _render(
    index: ServiceIndex, protocol: str, operation: OperationModel, output: dict[str, Any], request_id: str
) -> serialize.Reply:
    if protocol == "query":
        return serialize.query_xml(operation, output, request_id, serialize.xml_namespace(index))
    if protocol == "json":
        return serialize.json_body(index, operation, output)
    return serialize.rest_json(operation, output)


def _form(request: ApiRequest, body: bytes) -> dict[str, str]:
    """Query-protocol parameters: the query string, then the form body."""
    params = dict(parse_qsl(request.query_string, keep_blank_values=True))
    if body:
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            raise ParseError("The request body is not UTF-8 form data.") from None
    return params


def _fits_path(service: str, operation: OperationModel, request: ApiRequest) -> bool:
    """Whether a query-protocol operation may be posted to the request's path: on a queue's URL (SQS) only
    the operations of a queue (CreateQueue or ListQueues there is InvalidAction, as SQS answers)."""
    if service != "sqs" or not request.raw_path.strip("/"):
        return True
    shape = operation.input_shape
    return shape is not None and "QueueUrl" in shape.members


def _queue_url_from_path(operation: OperationModel, arguments: dict[str, Any], request: ApiRequest) -> None:
    """Old SQS clients post to the queue's URL and leave QueueUrl out of the form."""
    shape = operation.input_shape
    if shape is None or "QueueUrl" not in shape.members or "QueueUrl" in arguments:
        return
    if request.raw_path.strip("/"):
        host = request.headers.get("host", "localhost")
        arguments["QueueUrl"] = f"http://{host}{request.raw_path}"
