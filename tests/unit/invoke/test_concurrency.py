"""Concurrency accounting: reserved concurrency, the account limit, and leases given back."""

from __future__ import annotations

import pytest

from lambkin.invoke.concurrency import (
    ACCOUNT_LIMIT,
    RESERVED_LIMIT,
    ConcurrencyLimiter,
    Throttled,
    Usage,
    admit,
)


def test_admit_decisions() -> None:
    assert admit(Usage(0, 0, 0), reserved=None, account_limit=10) is None
    assert admit(Usage(0, 10, 0), reserved=None, account_limit=10) == ACCOUNT_LIMIT
    assert admit(Usage(0, 5, 5), reserved=None, account_limit=10) == ACCOUNT_LIMIT  # reserved by others
    assert admit(Usage(1, 10, 2), reserved=2, account_limit=10) is None  # reserved capacity is its own
    assert admit(Usage(2, 0, 2), reserved=2, account_limit=10) == RESERVED_LIMIT
    assert admit(Usage(0, 0, 0), reserved=0, account_limit=10) == RESERVED_LIMIT


def test_reserved_concurrency_throttles_past_the_reservation() -> None:
    limiter = ConcurrencyLimiter(account_limit=100)
    leases = [limiter.admit("fn", 2), limiter.admit("fn", 2)]
    with pytest.raises(Throttled) as caught:
        limiter.admit("fn", 2)
    assert caught.value.reason == RESERVED_LIMIT
    assert limiter.in_flight("fn") == 2
    for lease in leases:
        limiter.release(lease)
    assert limiter.in_flight("fn") == 0
    limiter.release(limiter.admit("fn", 2))


def test_account_limit_counts_unreserved_functions_together() -> None:
    limiter = ConcurrencyLimiter(account_limit=3)
    leases = [limiter.admit(name, None) for name in ("a", "b", "c")]
    with pytest.raises(Throttled) as caught:
        limiter.admit("d", None)
    assert caught.value.reason == ACCOUNT_LIMIT
    for lease in leases:
        limiter.release(lease)
    lease = limiter.admit("d", None)
    assert limiter.in_flight("d") == 1
    limiter.release(lease)
