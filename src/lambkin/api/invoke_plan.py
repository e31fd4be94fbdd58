"""The compiled plan of the hottest request, a synchronous Invoke, that the front door answers without the
gateway's generic engine.

Compiled once from the Invoke operation's botocore model (its request URI, its header members and their
enums, its output's header members), the plan recognises the request's head in a few string and dict
operations, then does what the gateway would: SigV4 (`AwsGateway.verify`), the authorizer and the Invoke
handler (`AwsGateway.call`), and renders the output as the generic rest-json serializer would, from its
header members read once. What it skips is the generic part: service picking and URI matching, parsing by
shape, validation (a name and qualifier are checked against their members' constraints once, then
remembered) and the shape-driven rendering.

Anything unusual goes the generic way: `admit` turns down a head it does not read whole (another invocation
type, a member it does not take, a name or qualifier that breaks its constraints, a trailing slash), and
`answer` returns None, before anything has run, for a body past its limit or a signature that does not
hold, so the gateway answers it, errors and all. Failures of the call itself (not found, AccessDenied,
throttling, a bad client context) are the gateway's AwsErrors, rendered by the same serializer.

In a cluster, an admitted Invoke that should run on another node is relayed there first, as it came
(api/invoke_relay.py: by the front door as bytes, `route` and `splice`, and by `answer` when that is not
the way), and that node's answer is the reply; one a peer relayed here (its node signature
holds) is answered full when this node cannot take it, else run here with `relayed_by` in its context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from lambkin import ids
from lambkin.api.invoke_relay import InvokeRelay, Route, full_reply
from lambkin.cluster.splice import Spliced
from lambkin.protocol import dialect, serialize
from lambkin.protocol.errors import AwsError
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.service import RequestContext
from lambkin.protocol.sigv4 import Incoming, SignatureError
from lambkin.protocol.validate import constraints

SERVICE, OPERATION = "lambda", "Invoke"
# The one invocation type the plan answers (Event and DryRun go the generic way).
_SYNC = "RequestResponse"
_KEPT = 256  # (name, qualifier) pairs remembered as valid


class InvokePlan:
    """Answers plain synchronous Invokes for `gateway`, which answers every other request."""

    def __init__(self, gateway: AwsGateway, relay: InvokeRelay | None = None) -> None:
        self._gateway = gateway
        self._relay = relay  # in a cluster: Invokes that should run on another node are relayed there
        self._index = index = gateway.indexes[SERVICE]
        operation = index.operations[OPERATION]
        self.body_limit = dialect.body_limit(SERVICE, OPERATION)
        self._prefix, label, self._suffix = operation.http["requestUri"].partition("{FunctionName}")
        if not label or "{" in self._suffix or "?" in self._suffix:
            raise ValueError(f"Invoke's request URI is not one label: {operation.http['requestUri']}")
        shape = operation.input_shape
        members = shape.members
        self._name = members["FunctionName"]
        self._qualifier = members["Qualifier"]
        self._qualifier_key = self._qualifier.serialization.get("name", "Qualifier")
        self._payload = shape.serialization["payload"]
        # the header members the plan reads (with the values it takes, None: any), and those it leaves
        taken = {"InvocationType": frozenset({_SYNC}), "LogType": None, "ClientContext": None}
        self._headers: tuple[tuple[str, str, frozenset[str] | None], ...] = ()
        self._unread: tuple[str, ...] = ()
        for name, member in members.items():
            if member.serialization.get("location") != "header":
                continue
            wire = member.serialization.get("name", name).lower()
            if name not in taken:
                self._unread += (wire,)
                continue
            values = taken[name]
            enum = frozenset(getattr(member, "enum", None) or ())
            self._headers += ((wire, name, values if values is not None else (enum or None)),)
        output = operation.output_shape
        self._status = int(operation.http.get("responseCode", 200))
        self._out: tuple[tuple[str, str], ...] = ()
        self._status_member = ""
        for name, member in output.members.items():
            location = member.serialization.get("location")
            if location == "statusCode":
                self._status_member = name
            elif location == "header":
                if member.type_name != "string":
                    raise ValueError(f"Invoke's output header {name} is not a string")
                self._out += ((name, member.serialization.get("name", name)),)
            elif location is not None:
                raise ValueError(f"Invoke's output member {name} is in {location}")
        self._out_payload = output.serialization["payload"]
        self._valid: set[tuple[str, str | None]] = set()

    def admit(self, method: str, target: str, headers: Mapping[str, str]) -> dict[str, Any] | None:
        """The input of a plain synchronous Invoke (without its payload), or None: not one the plan reads."""
        if method != "POST":
            return None
        path, _, query = target.partition("?")
        prefix, suffix = self._prefix, self._suffix
        if not path.startswith(prefix) or not path.endswith(suffix):
            return None
        name = path[len(prefix) : len(path) - len(suffix)]
        if not name or "/" in name:
            return None
        if "%" in name:
            name = unquote(name)
        qualifier: str | None = None
        if query:
            parsed = parse_qs(query, keep_blank_values=True)
            values = parsed.get(self._qualifier_key)
            if len(parsed) != 1 or values is None or len(values) != 1:
                return None
            qualifier = values[0]
        if not self._checked(name, qualifier):
            return None
        params: dict[str, Any] = {"FunctionName": name}
        if qualifier is not None:
            params["Qualifier"] = qualifier
        for wire, member, allowed in self._headers:
            value = headers.get(wire)
            if value is not None:
                if allowed is not None and value not in allowed:
                    return None
                params[member] = value
        for wire in self._unread:
            if wire in headers:
                return None
        return params

    def _checked(self, name: str, qualifier: str | None) -> bool:
        """Whether the name and qualifier meet their members' constraints (remembered once they do)."""
        key = (name, qualifier)
        if key in self._valid:
            return True
        if constraints(self._name, name) or (
            qualifier is not None and constraints(self._qualifier, qualifier)
        ):
            return False
        if len(self._valid) >= _KEPT:
            self._valid.clear()
        self._valid.add(key)
        return True

    def route(self, params: dict[str, Any], headers: Mapping[str, str]) -> Route | None:
        """In a cluster, the peers an admitted Invoke is relayed to as it came (`splice`), or None."""
        if self._relay is None or OPERATION not in self._gateway.services.get(SERVICE, {}):
            return None
        return self._relay.route(params["FunctionName"], params.get("Qualifier"), headers)

    def splice(
        self,
        route: Route,
        target: str,
        head: bytes | Mapping[str, str],
        body: bytes,
        done: Callable[[Spliced], None],
    ) -> None:
        """Relays a routed Invoke to its first peer as the client sent it (InvokeRelay.splice)."""
        assert self._relay is not None
        self._relay.splice(route, target, head, body, done)

    async def answer(
        self,
        params: dict[str, Any],
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        source_ip: str,
        after: str | None = None,
    ) -> serialize.Reply | None:
        """The reply to an admitted Invoke whose body is `body` (None: past the limit), or None: the gateway
        is to answer it (nothing has run). `after`: the peer a splice tried (InvokeRelay.relay)."""
        handler = self._gateway.services.get(SERVICE, {}).get(OPERATION)
        if body is None or handler is None:
            return None
        name, qualifier = params["FunctionName"], params.get("Qualifier")
        placed = None
        if self._relay is not None:
            placed = await self._relay.relay(name, qualifier, target, headers, body, after)
            if placed is not None and placed.reply is not None:
                return placed.reply  # the answer of the node that ran it
        raw_path, _, query_string = target.partition("?")
        try:
            verified = await self._gateway.verify(
                Incoming("POST", raw_path, query_string, headers, body), SERVICE
            )
        except SignatureError:
            return None
        relayer = self._gateway.relayer
        relayed_by = None if relayer is None else relayer.relayed_by("POST", raw_path, headers)
        if relayed_by is not None and self._relay is not None and await self._relay.full(name, qualifier):
            return full_reply()  # the relaying node tries the next
        if placed is not None:  # every node it should run on refused it: it runs here, placed once
            relayed_by = placed.node
        if body:
            params[self._payload] = body
        scope = verified.scope
        request_id = ids.uuid4()
        context = RequestContext(
            SERVICE,
            OPERATION,
            scope.region,
            self._gateway.account_id,
            scope.access_key_id,
            verified.caller,
            request_id,
            headers,
            source_ip,
            relayed_by,
        )
        try:
            reply = self._render(await self._gateway.call(handler, params, context))
        except AwsError as failure:
            reply = serialize.error(self._index, "rest-json", failure, request_id)
        reply.headers.append(("x-amzn-requestid", request_id))
        return reply

    def _render(self, output: dict[str, Any]) -> serialize.Reply:
        """The output as serialize.rest_json renders Invoke's: status, header members, the payload raw."""
        status = output.get(self._status_member)
        headers = [("content-type", "application/json")]
        for name, wire in self._out:
            value = output.get(name)
            if value is not None:
                headers.append((wire, str(value)))
        payload = output.get(self._out_payload)
        raw = payload if isinstance(payload, bytes) else str(payload or "").encode()
        return serialize.Reply(self._status if status is None else int(status), headers, raw)
