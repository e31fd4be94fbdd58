"""The synchronous invoke path: a concurrency lease, then an environment from the pool, then the event."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import ClassVar, Protocol

from lambkin import ids
from lambkin.environments.environment import EnvironmentLost, Invocation
from lambkin.environments.init_failure import InitFailed, InitFailure
from lambkin.environments.pool import Pools
from lambkin.environments.ports import VersionConfig
from lambkin.environments.results import SANDBOX_TIMEDOUT, Outcome, Success
from lambkin.invoke.concurrency import ConcurrencyLimiter, Throttled
from lambkin.metrics.recorder import Recorder
from lambkin.metrics.series import Outcome as Counted

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

    code: ClassVar[str] = "InvalidRequestContentException"
    message: ClassVar[str] = "Client context must be a valid Base64-encoded JSON object."


class Placement(Protocol):
    """Where an invoke runs in a cluster (invoke/forward.py): on a peer, whose result it returns, or here
    (None)."""

    async def elsewhere(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult | None: ...


class Quota(Protocol):
    """Cluster-wide concurrency (invoke/quota.py): a slot of `key` (a function with reserved concurrency,
    or "" for the account's unreserved pool) out of `limit` across the nodes, or Throttled."""

    async def take(self, key: str, limit: int) -> None: ...
    def give(self, key: str) -> None: ...


class Invoker:
    """Runs invokes: here, or (with a `placement`) on the node of the cluster that should run them. With a
    `quota`, the concurrency an invoke takes here is the cluster's too. With `metrics`, every invoke run
    here is counted by outcome (the pools' series count the warm ones without a lookup)."""

    def __init__(
        self,
        concurrency: ConcurrencyLimiter,
        pools: Pools,
        placement: Placement | None = None,
        quota: Quota | None = None,
        metrics: Recorder | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.pools = pools
        self.placement = placement
        self.quota = quota
        self.metrics = metrics

    async def invoke(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult:
        """Runs one event to its outcome. Raises Throttled when a concurrency limit is reached."""
        if self.placement is not None:
            decode_client_context(request.client_context)  # a bad one is refused before any hop
            if request.request_id is None:
                request.request_id = ids.uuid4()
            result = await self.placement.elsewhere(version, request)
            if result is not None:
                return result
        return await self.run_here(version, request)

    async def run_here(self, version: InvokeTarget, request: InvokeRequest) -> InvokeResult:
        """Runs one event on this node (the internal invoke endpoint's path: never placed again)."""
        request_id = request.request_id or ids.uuid4()
        invocation = Invocation(
            request_id=request_id,
            payload=request.payload,
            invoked_function_arn=request.invoked_function_arn,
            client_context=decode_client_context(request.client_context),
            trace_id=request.trace_id or ids.trace_header(),
            tail=request.log_tail,
        )
        reserved = version.reserved_concurrency
        try:
            lease = self.concurrency.admit(version.name, reserved)
        except Throttled:
            self._refused(version, Counted.THROTTLE)
            raise
        try:
            if self.quota is None:
                return await self._run(version, invocation, request_id)
            key, limit = (
                (version.name, reserved) if reserved is not None else ("", self.concurrency.unreserved())
            )
            try:
                await self.quota.take(key, limit)
            except Throttled:
                self._refused(version, Counted.THROTTLE)
                raise
            try:
                return await self._run(version, invocation, request_id)
            finally:
                self.quota.give(key)
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
                series = pool.series
                if series is not None:
                    series.invoked(counted(result.outcome), result.duration_ms)
                return InvokeResult(request_id, result.outcome, result.log_tail)
            except EnvironmentLost:
                log.warning(
                    "environment lost before request %s reached it (attempt %d)", request_id, attempt + 1
                )
            except InitFailed as failure:
                if failure.refusal is not None:
                    raise failure.refusal from None
                self._refused(version, Counted.INIT_FAILURE)
                timeout_s = float(version.timeout)
                tail = failure.report(request_id, timeout_s)  # START, END, REPORT for this request
                return InvokeResult(request_id, failure.outcome(request_id, timeout_s), tail)
        lost = InitFailed(InitFailure.SANDBOX, "no environment could take the event")
        self._refused(version, Counted.INIT_FAILURE)
        return InvokeResult(request_id, lost.outcome(request_id, float(version.timeout)), b"")

    def _refused(self, version: InvokeTarget, outcome: Counted) -> None:
        if self.metrics is not None:
            self.metrics.series(version.name, version.version).refused(outcome)


def counted(outcome: Outcome) -> Counted:
    """How an invocation that ran is counted: a success, a timeout, or another function error."""
    if isinstance(outcome, Success):
        return Counted.SUCCESS
    return Counted.TIMEOUT if outcome.error_type == SANDBOX_TIMEDOUT else Counted.FUNCTION_ERROR


def decode_client_context(encoded: str | None) -> str:
    """The runtime receives the caller's ClientContext decoded from base64 (JSON text)."""
    if not encoded:
        return ""
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClientContext(str(exc)) from exc
