"""The cells one function version's invocations are counted in: outcomes, durations, cold-start phases.

Plain numbers, written on the event loop (the only writer) without locks: an invocation costs one list
increment, one bisect and three additions. Readers (the Prometheus exposition now, per-minute aggregates for
the CloudWatch API later) copy them with `snapshot()` and work on the copy.
"""

from __future__ import annotations

import enum
import math
from bisect import bisect_left
from dataclasses import dataclass

# Upper bounds in milliseconds, whole numbers: a billed duration (the duration rounded up to the next
# millisecond) falls in the same bucket as its duration, so the billed histogram shares the counts.
DURATION_BUCKETS_MS: tuple[int, ...] = (
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 900000,
)  # fmt: skip
# Cold-start phases are few (one per environment started) and coarse (tens of milliseconds to seconds, a pull
# longer): nine bounds tell a cached image from a pulled one and a slow init from a quick one. Each bound is a
# line per phase and version in every scrape (four phases: 36 lines a version), so there are few of them.
PHASE_BUCKETS_MS: tuple[int, ...] = (10, 50, 100, 250, 500, 1000, 2500, 10000, 60000)


class Outcome(enum.IntEnum):
    """How an invocation ended, as Lambda's metrics tell them apart (Invocations, Errors, Throttles)."""

    SUCCESS = 0
    FUNCTION_ERROR = 1
    THROTTLE = 2
    TIMEOUT = 3
    INIT_FAILURE = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class Phase(enum.IntEnum):
    """The parts of a cold start, in the order they happen."""

    IMAGE_RESOLUTION = 0  # the image's URI to a digest and its config (a pull when not held yet)
    LAYER_UNPACK = 1  # its layers unpacked into shared read-only directories (once per layer)
    SANDBOX_CREATION = 2  # bundle, overlay root, network namespace, `runc create`
    RUNTIME_INIT = 3  # the runtime started until its first /next

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class HistogramView:
    """A histogram's copy: counts per bucket (not cumulative; the last one past every bound) and the sum."""

    bounds: tuple[int, ...]
    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class SeriesView:
    """One function version's cells, copied."""

    function: str
    version: str
    outcomes: tuple[int, ...]  # by Outcome
    duration: HistogramView
    billed_ms: int  # the billed histogram's sum (its counts are the duration's)
    cold_starts: int
    phases: tuple[HistogramView, ...]  # by Phase


class Series:
    """One function version's cells. `invoked` is the warm path."""

    __slots__ = (
        "_billed_ms",
        "_cold_starts",
        "_duration",
        "_duration_ms",
        "_outcomes",
        "_phase_ms",
        "_phases",
        "function",
        "version",
    )

    def __init__(self, function: str, version: str) -> None:
        self.function = function
        self.version = version
        self._outcomes = [0] * len(Outcome)
        self._duration = [0] * (len(DURATION_BUCKETS_MS) + 1)
        self._duration_ms = 0.0
        self._billed_ms = 0
        self._cold_starts = 0
        self._phases = [[0] * (len(PHASE_BUCKETS_MS) + 1) for _ in Phase]
        self._phase_ms = [0.0] * len(Phase)

    def invoked(self, outcome: Outcome, duration_ms: float) -> None:
        """An invocation that ran (success, function error, timeout) and how long it took."""
        self._outcomes[outcome] += 1
        self._duration[bisect_left(DURATION_BUCKETS_MS, duration_ms)] += 1
        self._duration_ms += duration_ms
        self._billed_ms += math.ceil(duration_ms)

    def refused(self, outcome: Outcome) -> None:
        """An invocation that never ran (throttled, or its environment's init failed)."""
        self._outcomes[outcome] += 1

    def cold_start(self, phases_ms: dict[Phase, float]) -> None:
        """One environment initialized; the phases it went through (a phase served from a cache is absent)."""
        self._cold_starts += 1
        for phase, elapsed_ms in phases_ms.items():
            self._phases[phase][bisect_left(PHASE_BUCKETS_MS, elapsed_ms)] += 1
            self._phase_ms[phase] += elapsed_ms

    def snapshot(self) -> SeriesView:
        return SeriesView(
            self.function,
            self.version,
            tuple(self._outcomes),
            HistogramView(DURATION_BUCKETS_MS, tuple(self._duration), self._duration_ms),
            self._billed_ms,
            self._cold_starts,
            tuple(
                HistogramView(PHASE_BUCKETS_MS, tuple(counts), total)
                for counts, total in zip(self._phases, self._phase_ms, strict=True)
            ),
        )
