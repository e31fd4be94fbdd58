"""GET /metrics: the Prometheus text of this node, for a scraper holding the metrics bearer token, or a
request SigV4-signed with the account root's key.

Refused to everyone unless the server has a token (LAMBKIN_METRICS_TOKEN): what runs here, and the names
of functions and queues, are no one's business by default. The scrape reads the facts of the moment (environments,
concurrency, queue depths, waiting async events) then, not on any hot path: queue depths and async events
in one query each; the text is rendered off the event loop, and gzipped there when the scraper accepts it
(Prometheus does: a thousand function versions are about 11 MB of text and 0.5 MB gzipped).
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import hmac
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from prometheus_client.exposition import gzip_accepted

from lambkin.api.asgi import Receive, Scope, Send, header, respond
from lambkin.environments.lifecycle import EnvState
from lambkin.environments.pool import Pools
from lambkin.invoke.concurrency import ConcurrencyLimiter
from lambkin.metrics.exposition import CONTENT_TYPE, Gauges, QueueDepth, render
from lambkin.metrics.recorder import Recorder
from lambkin.protocol.sigv4 import Incoming, KeyLookup, SignatureError, verify
from lambkin.protocol.sigv4_signer import ALGORITHM

PATH = "/metrics"
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_STATES = (EnvState.INITIALIZING, EnvState.IDLE, EnvState.FROZEN, EnvState.BUSY)
GZIP_LEVEL = 1  # the text is repetitive: level 1 already makes it 25 times smaller, at a third of 6's cost


@dataclass(frozen=True)
class Sources:
    """Where a scrape reads what is true now."""

    pools: Pools
    concurrency: ConcurrencyLimiter
    versions: Callable[[], Awaitable[Collection[tuple[str, str]]]]  # every (function, version) stored
    mappings: Callable[[], Collection[str]]  # every event source mapping's UUID
    queues: Callable[[], Awaitable[list[tuple[str, int, int, int, float]]]]  # QueueService.depths
    async_events: Callable[[], Awaitable[list[tuple[str, int, float]]]]  # EventStore.waiting
    now: Callable[[], float]  # wall-clock seconds


async def scrape(recorder: Recorder, sources: Sources) -> bytes:
    """The Prometheus text of everything counted and everything true now. Series of deleted functions,
    versions and mappings are dropped first."""
    recorder.retain(await sources.versions(), sources.mappings())
    queues = await sources.queues()
    waiting = await sources.async_events()
    now = sources.now()
    snapshot = recorder.snapshot()  # on the loop, in one go: the counts' writers are on the loop too
    census = sources.pools.census()
    in_flight = {series.function: 0 for series in snapshot.series}  # 0 for every function counted here
    in_flight.update(sources.concurrency.by_function())
    gauges = Gauges(
        concurrency=tuple(in_flight.items()),
        environments=tuple(
            (c.function, c.version, state.value, c.states.get(state, 0)) for c in census for state in _STATES
        ),
        provisioned=tuple(
            (c.function, c.version, c.provisioned, c.states.get(EnvState.BUSY, 0))
            for c in census
            if c.provisioned
        ),
        queues=tuple(QueueDepth(*row) for row in queues),
        async_events=tuple((function, count, max(0.0, now - oldest)) for function, count, oldest in waiting),
    )
    return await asyncio.to_thread(render, snapshot, gauges)


class MetricsApp:
    """The /metrics surface; `token` None refuses every scrape. `keys` (the server's keyring) verifies
    signed scrapes: only the account root's pass."""

    def __init__(
        self, token: str | None, scrape: Callable[[], Awaitable[bytes]], keys: KeyLookup | None = None
    ) -> None:
        self._expected = None if token is None else f"Bearer {token}".encode()
        self._scrape = scrape
        self._keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await respond(send, 405, b"Only GET scrapes metrics.\n", [*_TEXT, (b"allow", b"GET, HEAD")])
            return
        if self._expected is None:
            body = b"Metrics are off: set LAMBKIN_METRICS_TOKEN on the server to scrape them.\n"
            await respond(send, 403, body, _TEXT)
            return
        given = (header(scope, b"authorization") or "").encode("latin-1")
        if given.startswith(ALGORITHM.encode()) and self._keys is not None:
            if not self._signed_by_root(scope):
                await respond(send, 403, b"Only the account root's key may scrape metrics.\n", _TEXT)
                return
        elif not hmac.compare_digest(given, self._expected):
            challenge = (b"www-authenticate", b'Bearer realm="lambkin metrics"')
            await respond(send, 401, b"A bearer token is needed to scrape metrics.\n", [*_TEXT, challenge])
            return
        body = await self._scrape()
        headers = [(b"content-type", CONTENT_TYPE.encode()), (b"vary", b"accept-encoding")]
        if gzip_accepted(header(scope, b"accept-encoding") or ""):
            body = await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL)
            headers.append((b"content-encoding", b"gzip"))
        if scope.get("method") == "HEAD":
            headers.append((b"content-length", str(len(body)).encode()))
            await respond(send, 200, b"", headers)
            return
        await respond(send, 200, body, headers)

    def _signed_by_root(self, scope: Scope) -> bool:
        """Whether the request's SigV4 signature holds and the account root made it."""
        assert self._keys is not None
        headers = {bytes(k).decode("latin-1"): bytes(v).decode("latin-1") for k, v in scope["headers"]}
        raw_path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        incoming = Incoming(
            scope["method"], raw_path, bytes(scope.get("query_string", b"")).decode("latin-1"), headers, b""
        )
        try:
            verified = verify(incoming, self._keys, datetime.datetime.now(datetime.UTC))
        except SignatureError:
            return False
        return getattr(verified.caller, "kind", None) == "root"
