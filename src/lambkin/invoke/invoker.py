"""The synchronous invoke path: a concurrency lease, then an environment from the pool, then the event."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Protocol

from lambkin import ids
from lambkin.environments.environment import EnvironmentLost, Invocation
from lambkin.environments.init_failure import InitFailed, InitFailure
from lambkin.environments.pool import Pools
from lambkin.environments.ports import VersionConfig
from lambkin.environments.results import Outcome
from lambkin.invoke.concurrency import ConcurrencyLimiter

log = logging.getLogger("lambkin.invoke")

ATTEMPTS = 3  # an event that never reached a runtime goes to another environment


class InvokeTarget(VersionConfig, Protocol):
    @property
    def reserved_concurrency(self) -> int | None: ...


@dataclass(slots=True)
class InvokeRequest:
    payload: bytes
    invoked_function_arn: str
    client_context: str | None = None  # the caller's base64 X-Amz-Client-Context
    trace_id: str | None = None
    request_id: str | None = None
    log_tail: bool = False


@dataclass(slots=True)
class InvokeResult:
    request_id: str
    outcome: Outcome
    log_tail: bytes


class InvalidClientContext(ValueError):
    """X-Amz-Client-Context is not base64."""

    code = "InvalidRequestContentException"
    message = "Client context must be a valid Base64-encoded JSON object."


class Invoker:
    def __init__(self, concurrency: ConcurrencyLimiter, pools: Pools) -> None:
        self.concurrency = concurrency
        self.pools = pools

    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult:
        """Runs one event to its outcome. Raises Throttled when a concurrency limit is reached."""
        request_id = request.request_id or ids.uuid4()
        invocation = Invocation(
            request_id=request_id,
            payload=request.payload,
            invoked_function_arn=request.invoked_function_arn,
            client_context=decode_client_context(request.client_context),
            trace_id=request.trace_id or ids.trace_header(),
            tail=request.log_tail,
        )
        lease = self.concurrency.admit(version.name, version.reserved_concurrency)
        try:
            return await self._run(version, invocation, request_id)
        finally:
            self.concurrency.release(lease)

    async def _run(self, version: InvokeTarget, invocation: Invocation, request_id: str) -> InvokeResult:
        for attempt in range(ATTEMPTS):
            try:
                pool, env = await self.pools.take(version)
                try:
                    result = await env.invoke(invocation, float(version.timeout))
                finally:
                    self.pools.give_back(pool, env)
                return InvokeResult(request_id, result.outcome, result.log_tail)
            except EnvironmentLost:
                log.warning(
                    "environment lost before request %s reached it (attempt %d)", request_id, attempt + 1
                )
            except InitFailed as failure:
                if failure.refusal is not None:
                    raise failure.refusal from None
                timeout_s = float(version.timeout)
                tail = failure.report(request_id, timeout_s)  # START, END, REPORT for this request
                return InvokeResult(request_id, failure.outcome(request_id, timeout_s), tail)
        lost = InitFailed(InitFailure.SANDBOX, "no environment could take the event")
        return InvokeResult(request_id, lost.outcome(request_id, float(version.timeout)), b"")


def decode_client_context(encoded: str | None) -> str:
    """The runtime receives the caller's ClientContext decoded from base64 (JSON text)."""
    if not encoded:
        return ""
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClientContext(str(exc)) from exc
