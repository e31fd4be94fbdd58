"""botocore's service models, loaded once and indexed for routing: request URIs, X-Amz-Target, Action."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class Route:
    """One rest-json operation's compiled `requestUri`: the path pattern and the query it requires."""

    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: tuple[tuple[str, str], ...]  # (regex group, URI label name as in the template)
    query: tuple[tuple[str, str | None], ...]  # literal `?key=value` parts of the template
    specificity: tuple[int, int]


@dataclass(frozen=True)
class Match:
    """A request routed to an operation, with its URI labels (still percent-encoded)."""

    operation: OperationModel
    labels: Mapping[str, str]


def _compile(operation: OperationModel) -> Route:
    method = operation.http.get("method", "POST").upper()
    uri: str = operation.http.get("requestUri", "/")
    path, _, query_part = uri.partition("?")
    regex, labels, position, literal = "", [], 0, 0
    for index, found in enumerate(_LABEL.finditer(path)):
        regex += re.escape(path[position : found.start()])
        literal += found.start() - position
        group = f"g{index}"
        regex += f"(?P<{group}>.+)" if found.group(2) else f"(?P<{group}>[^/]+)"
        labels.append((group, found.group(1)))
        position = found.end()
    regex += re.escape(path[position:])
    literal += len(path) - position
    query: list[tuple[str, str | None]] = []
    for part in filter(None, query_part.split("&")):
        key, eq, value = part.partition("=")
        query.append((key, value if eq else None))
    return Route(
        operation=operation,
        method=method,
        pattern=re.compile(regex.rstrip("/") + "/?$"),  # a trailing slash either way
        labels=tuple(labels),
        query=tuple(query),
        specificity=(len(query), literal),
    )


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


_KNOWN_PATHS = 4096
_SPOKEN = ("rest-json", "json", "query")


class ServiceIndex:
    """One service's model with lookups precomputed for the hot path."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.name: str = model.service_name
        # the first of the model's protocols lambkin speaks (CloudWatch lists smithy-rpc-v2-cbor first; the
        # SDKs speak json to it, older tools query)
        offered = model.metadata.get("protocols") or [model.metadata.get("protocol", "rest-json")]
        self.protocol: str = next((p for p in offered if p in _SPOKEN), offered[0])
        self.target_prefix: str = model.metadata.get("targetPrefix", "")
        # the service a SigV4 scope names ("apigateway" for apigatewayv2)
        self.signing_name: str = (
            model.metadata.get("signingName") or model.metadata.get("endpointPrefix") or self.name
        )
        self.json_version: str = model.metadata.get("jsonVersion", "1.0")
        self.query_compatible = "awsQueryCompatible" in model.metadata
        self.xml_namespace: str = model.metadata.get("xmlNamespace", "")
        self.operations: dict[str, OperationModel] = {
            name: model.operation_model(name) for name in model.operation_names
        }
        self.errors: dict[str, dict[str, object]] = {}
        for shape_name in model.shape_names:
            shape = model.shape_for(shape_name)
            if shape.metadata.get("exception"):
                self.errors[shape_name] = dict(shape.metadata.get("error") or {})
        buckets: dict[tuple[str, str], list[Route]] = {}
        for operation in self.operations.values():
            route = _compile(operation)
            uri = operation.http.get("requestUri", "/").partition("?")[0]
            first = _first_segment(uri)
            key = (route.method, "" if first.startswith("{") else first)
            buckets.setdefault(key, []).append(route)
        for routes in buckets.values():
            routes.sort(key=lambda r: r.specificity, reverse=True)
        self._routes = buckets
        self._known: dict[tuple[str, str], Match | None] = {}  # routes of paths without a query string

    def route(self, method: str, raw_path: str, query: Mapping[str, list[str]]) -> Match | None:
        """The rest-json operation for a request, or None. Without a query string the answer depends on the
        method and path alone, and is kept (the same function is invoked at the same path again and again)."""
        if query:
            return self._match(method, raw_path, query)
        key = (method, raw_path)
        if key in self._known:
            return self._known[key]
        if len(self._known) >= _KNOWN_PATHS:
            self._known.clear()
        found = self._known[key] = self._match(method, raw_path, query)
        return found

    def _match(self, method: str, raw_path: str, query: Mapping[str, list[str]]) -> Match | None:
        for key in ((method, _first_segment(raw_path)), (method, "")):
            for route in self._routes.get(key, ()):
                found = route.pattern.match(raw_path)
                if found is None or not _query_matches(route.query, query):
                    continue
                return Match(route.operation, {label: found.group(group) for group, label in route.labels})
        return None

    def path_known(self, raw_path: str) -> bool:
        """Whether some operation has this path under another method (for a 405-style answer)."""
        first = _first_segment(raw_path)
        for (_, segment), routes in self._routes.items():
            if segment in (first, "") and any(r.pattern.match(raw_path) for r in routes):
                return True
        return False

    def by_target(self, target: str) -> OperationModel | None:
        """The json-protocol operation named by `X-Amz-Target: <targetPrefix>.<Operation>`."""
        prefix, _, name = target.rpartition(".")
        if prefix != self.target_prefix:
            return None
        return self.operations.get(name)

    def wire_code(self, code: str) -> str:
        """The code an error shape goes by on the query protocol's wire ("NoSuchEntityException" is
        IAM's "NoSuchEntity"); unmodelled codes ("AccessDenied") are their own."""
        error = self.errors.get(code)
        wire = error.get("code") if error else None
        return wire if isinstance(wire, str) else code

    def error_status(self, code: str) -> int | None:
        """The HTTP status the model gives an error shape, if it is modelled."""
        error = self.errors.get(code)
        if error is None:
            return None
        status = error.get("httpStatusCode")
        return int(status) if isinstance(status, int) else None


def _query_matches(required: tuple[tuple[str, str | None], ...], query: Mapping[str, list[str]]) -> bool:
    for key, value in required:
        values = query.get(key)
        if values is None or (value is not None and value not in values):
            return False
    return True


@cache
def service_index(name: str) -> ServiceIndex:
    """The indexed model of a botocore service ("lambda", "sqs", "iam", ...), loaded once per process."""
    loaded = Loader().load_service_model(name, "service-2")
    return ServiceIndex(ServiceModel(loaded, service_name=name))


@cache
def body_members(shape: StructureShape) -> dict[str, tuple[str, Shape]]:
    """A structure's members that travel in a JSON body (no `location`), by wire name. Cached per shape."""
    return {
        member.serialization.get("name", name): (name, member)
        for name, member in shape.members.items()
        if "location" not in member.serialization
    }


@cache
def wire_protocol(signing_name: str) -> str:
    """The protocol lambkin answers errors in to a client of the service a SigV4 scope names, by botocore's
    model of that name: "query" (XML) for query, ec2 and rest-xml services, "json" or "rest-json" as
    they are, "rest-json" when no model has that name."""
    try:
        loaded = Loader().load_service_model(signing_name, "service-2")
    except Exception:  # botocore's DataNotFoundError, or a name that is no service's
        return "rest-json"
    protocol = str(loaded.get("metadata", {}).get("protocol", "rest-json"))
    return "query" if protocol in ("query", "ec2", "rest-xml") else protocol
