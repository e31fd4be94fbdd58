"""HTTP APIs' token buckets: burst, refill at the rate, route settings over the stage's default."""

from __future__ import annotations

from lambkin.events.http.throttle import Buckets, Limit, limit_of

KEY = ("api1", "$default", "GET /pets")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_passes_the_burst_then_refuses() -> None:
    buckets = Buckets(Clock())
    limit = Limit(rate=1.0, burst=3)
    assert [buckets.take(KEY, limit) for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate_up_to_the_burst() -> None:
    clock = Clock()
    buckets = Buckets(clock)
    limit = Limit(rate=2.0, burst=2)
    assert buckets.take(KEY, limit) and buckets.take(KEY, limit) and not buckets.take(KEY, limit)
    clock.now += 0.5  # one token
    assert buckets.take(KEY, limit) and not buckets.take(KEY, limit)
    clock.now += 60  # never more than the burst
    assert [buckets.take(KEY, limit) for _ in range(3)] == [True, True, False]


def test_each_route_of_each_stage_has_its_own_bucket() -> None:
    buckets = Buckets(Clock())
    limit = Limit(rate=0.001, burst=1)
    assert buckets.take(KEY, limit) and not buckets.take(KEY, limit)
    assert buckets.take(("api1", "prod", "GET /pets"), limit)
    assert buckets.take(("api1", "$default", "POST /pets"), limit)
    assert buckets.take(("api2", "$default", "GET /pets"), limit)


def test_a_changed_limit_starts_a_full_bucket() -> None:
    buckets = Buckets(Clock())
    assert buckets.take(KEY, Limit(0.001, 1)) and not buckets.take(KEY, Limit(0.001, 1))
    assert buckets.take(KEY, Limit(0.001, 2))


def test_a_burst_of_zero_refuses_everything_and_no_rate_refills_at_once() -> None:
    buckets = Buckets(Clock())
    assert not buckets.take(KEY, Limit(rate=100.0, burst=0))
    unlimited_rate = Limit(rate=None, burst=1)
    assert all(buckets.take(("a", "b", "c"), unlimited_rate) for _ in range(50))


def test_route_settings_replace_the_stage_default() -> None:
    default = {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 10.0, "DetailedMetricsEnabled": False}
    routes = {"GET /pets": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.5}, "GET /free": {}}
    assert limit_of(default, routes, "GET /pets") == Limit(0.5, 1)
    assert limit_of(default, routes, "POST /pets") == Limit(10.0, 5)
    assert limit_of(default, routes, "GET /free") is None
    assert limit_of({"DetailedMetricsEnabled": False}, {}, "GET /pets") is None
    assert limit_of(None, {}, "$default") is None
