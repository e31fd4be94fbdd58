"""HTTP APIs' own throttling: a stage's route settings as a limit, and a token bucket per (API, stage, route
key) holding at most the burst and filled at the rate, which answers whether a request may pass."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str, str]  # API id, stage name, route key
MAX_BUCKETS = 100_000  # beyond this many routes in use the buckets start over (full)


@dataclass(frozen=True)
class Limit:
    """A route's throttle: tokens a second (None: refilled at once) and the bucket's size (None: the rate)."""

    rate: float | None
    burst: int | None

    @property
    def capacity(self) -> float:
        if self.burst is not None:
            return float(self.burst)
        return max(1.0, self.rate or 0.0)


def limit_of(
    default: Mapping[str, Any] | None, routes: Mapping[str, Mapping[str, Any]], route_key: str
) -> Limit | None:
    """The limit of a route: its own entry of the stage's RouteSettings if it has one (which replaces the
    DefaultRouteSettings), else the DefaultRouteSettings; None when neither sets a throttle."""
    settings = routes.get(route_key, default) or {}
    rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
    if rate is None and burst is None:
        return None
    return Limit(None if rate is None else float(rate), None if burst is None else int(burst))


@dataclass
class _Bucket:
    limit: Limit
    tokens: float
    at: float


class Buckets:
    """The token buckets of every throttled route; a bucket starts full, and starts over when its limit
    changes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[Key, _Bucket] = {}

    def take(self, key: Key, limit: Limit) -> bool:
        """Whether a request may pass (taking one token), or is over the limit."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None or bucket.limit != limit:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(limit, limit.capacity, now)
        elif limit.rate is None:
            bucket.tokens = limit.capacity
        else:
            bucket.tokens = min(limit.capacity, bucket.tokens + (now - bucket.at) * limit.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True
