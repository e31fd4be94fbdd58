"""Concurrency accounting: reserved concurrency per function and the account limit, as leases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"
DEFAULT_ACCOUNT_LIMIT = 1000


class Throttled(Exception):
    """Admitting one more invocation would exceed a concurrency limit; `reason` is Lambda's ThrottleReason."""

    code: ClassVar[str] = "TooManyRequestsException"
    message: ClassVar[str] = "Rate Exceeded."

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def fields(self) -> dict[str, str]:
        return {"Reason": self.reason}


@dataclass(frozen=True)
class Usage:
    in_flight: int  # this function's invocations in flight
    unreserved_in_flight: int  # in flight across functions without reserved concurrency
    total_reserved: int  # concurrency reserved by every function


def admit(usage: Usage, reserved: int | None, account_limit: int) -> str | None:
    """None to admit one more invocation, else the throttle reason."""
    if reserved is not None:
        return RESERVED_LIMIT if usage.in_flight >= reserved else None
    if usage.unreserved_in_flight >= account_limit - usage.total_reserved:
        return ACCOUNT_LIMIT
    return None


class ConcurrencyLimiter:
    """Counts invocations in flight; `admit(fn, reserved)` admits one or raises Throttled."""

    def __init__(self, account_limit: int = DEFAULT_ACCOUNT_LIMIT) -> None:
        self.account_limit = account_limit
        self._in_flight: dict[str, int] = {}
        self._reserved: dict[str, int] = {}
        self._unreserved_in_flight = 0

    def set_reserved(self, function: str, reserved: int | None) -> None:
        if reserved is None:
            self._reserved.pop(function, None)
        else:
            self._reserved[function] = reserved

    def in_flight(self, function: str) -> int:
        return self._in_flight.get(function, 0)

    def by_function(self) -> dict[str, int]:
        """Invocations in flight, by function (those with none are absent)."""
        return dict(self._in_flight)

    def unreserved(self) -> int:
        """The account's concurrency left to functions without a reservation (of those known here)."""
        return self.account_limit - sum(self._reserved.values())

    def admit(self, function: str, reserved: int | None) -> tuple[str, bool]:
        """Counts one more invocation in flight, or raises Throttled; `release` the lease it returns."""
        self.set_reserved(function, reserved)
        in_flight = self.in_flight(function)
        usage = Usage(in_flight, self._unreserved_in_flight, sum(self._reserved.values()))
        reason = admit(usage, reserved, self.account_limit)
        if reason is not None:
            raise Throttled(reason)
        self._in_flight[function] = in_flight + 1
        if reserved is None:
            self._unreserved_in_flight += 1
        return function, reserved is None

    def release(self, lease: tuple[str, bool]) -> None:
        function, unreserved = lease
        left = self._in_flight[function] - 1
        if left:
            self._in_flight[function] = left
        else:
            del self._in_flight[function]
        if unreserved:
            self._unreserved_in_flight -= 1
