"""What the protocol layer hands to a service: the request's context and the handler signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lambkin.protocol.serialize import Reply


class Caller(Protocol):
    """Who signed a request, as the key lookup knows them (identity's Principal)."""

    @property
    def arn(
        self,
    ) -> str: ...  # arn:aws:iam::ACCOUNT:root, ...:user/NAME, arn:aws:sts::ACCOUNT:assumed-role/R/S


@dataclass(slots=True)
class RequestContext:
    """Who called which operation, as the gateway established it before the handler runs."""

    service: str  # botocore service name: "lambda", "sqs", "logs"
    operation: str  # the model's operation name: "GetFunction", "SendMessage"
    region: str  # region from the SigV4 credential scope
    account_id: str  # the server's account ID (every ARN is built from it)
    access_key_id: str  # the verified access key
    caller: Caller  # who signed with it
    request_id: str  # also sent as x-amzn-RequestId
    headers: Mapping[str, str]  # request headers, names in lower case
    source_ip: str
    relayed_by: str | None = None  # the node that relayed this request here (never relay it again)


class Relay(Exception):
    """Raised by a handler when another node owns the work: the gateway sends the request, as the client
    sent it (its signature is checked again there), to that node at `url` and answers with its reply."""

    def __init__(self, url: str) -> None:
        super().__init__(f"relay to {url}")
        self.url = url


class Relayer(Protocol):
    """How the gateway relays (the cluster's peers): who relayed a request here, and the relay itself."""

    def relayed_by(self, method: str, path: str, headers: Mapping[str, str]) -> str | None: ...

    async def relay(
        self, url: str, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Reply: ...


Handler = Callable[[dict[str, Any], RequestContext], Awaitable[dict[str, Any]]]
"""Receives the parsed, validated input keyed by model member names; returns the output the same way.

Raise `lambkin.protocol.errors.AwsError` for an AWS error. Values use Python types: blob → bytes,
timestamp → datetime (or a number of epoch seconds / ISO string on output), structure → dict.
An event-stream member (InvokeWithResponseStream's `EventStream`) is an async iterator of one-key dicts,
`{"PayloadChunk": {"Payload": b"..."}}` ... `{"InvokeComplete": {}}`, streamed as it yields; an AwsError
raised from it ends the stream with an error message.
"""

Authorize = Callable[["RequestContext", dict[str, Any]], None]
"""Asked after validation and before the handler, with the parsed input: returns if the caller may do the
operation, raises an AwsError (the service's AccessDenied) or a DomainError otherwise. Synchronous: it runs
on every request, from caches."""

Services = Mapping[str, Mapping[str, Handler]]
"""Handlers per botocore service name ("lambda", "sqs", "logs"), then per operation name."""
