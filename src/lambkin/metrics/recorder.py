"""The one place where what happens is recorded: invocations and cold starts per function version, HTTP
requests per surface and status, event source mapping batches per mapping.

Every writer runs on the event loop; readers take copies (`snapshot()`), so nothing here locks. The parts
that record hold what they write to (a `Series` per pool of environments), so the warm path looks nothing up.
Series of functions and versions that no longer exist are dropped by `retain`, which the scrape calls with
the versions the store holds: the number of series stays bounded by the functions there are.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from lambkin.metrics.series import Series, SeriesView


class BatchResult(enum.Enum):
    """How a batch of an event source mapping ended."""

    SUCCESS = "success"  # every record processed
    PARTIAL = "partial"  # the function reported some records as failed (batchItemFailures)
    FAILURE = "failure"  # the invoke failed: the whole batch returns to the queue
    THROTTLED = "throttled"  # throttled until the batch's visibility ran out


@dataclass(frozen=True)
class Snapshot:
    """A copy of every count, taken at one moment on the loop."""

    series: tuple[SeriesView, ...]
    requests: tuple[tuple[str, int, int], ...]  # (surface, HTTP status, count)
    batches: tuple[tuple[str, str, str, int], ...]  # (mapping UUID, function, BatchResult value, count)


class Recorder:
    """Every count of this node."""

    def __init__(self) -> None:
        self._series: dict[str, dict[str, Series]] = {}
        self._requests: dict[str, dict[int, int]] = {}
        self._batches: dict[tuple[str, str], dict[BatchResult, int]] = {}

    def series(self, function: str, version: str) -> Series:
        """The cells of one function version, made on first use."""
        versions = self._series.get(function)
        if versions is None:
            versions = self._series[function] = {}
        series = versions.get(version)
        if series is None:
            series = versions[version] = Series(function, version)
        return series

    def request(self, surface: str, status: int) -> None:
        """One HTTP request answered by `surface` (lambda, sqs, registry, function-urls, ...)."""
        statuses = self._requests.get(surface)
        if statuses is None:
            statuses = self._requests[surface] = {}
        statuses[status] = statuses.get(status, 0) + 1

    def batch(self, mapping: str, function: str, result: BatchResult) -> None:
        """One batch of the event source mapping `mapping` (its UUID) handed to `function`."""
        key = (mapping, function)
        results = self._batches.get(key)
        if results is None:
            results = self._batches[key] = {}
        results[result] = results.get(result, 0) + 1

    def retain(self, versions: Collection[tuple[str, str]], mappings: Collection[str]) -> None:
        """Drops the series of every (function, version) not in `versions` and every mapping not in
        `mappings`: they were deleted."""
        for function in list(self._series):
            kept = self._series[function]
            for version in list(kept):
                if (function, version) not in versions:
                    del kept[version]
            if not kept:
                del self._series[function]
        for key in [key for key in self._batches if key[0] not in mappings]:
            del self._batches[key]

    def snapshot(self) -> Snapshot:
        return Snapshot(
            series=tuple(s.snapshot() for versions in self._series.values() for s in versions.values()),
            requests=tuple(
                (surface, status, count)
                for surface, statuses in self._requests.items()
                for status, count in statuses.items()
            ),
            batches=tuple(
                (mapping, function, result.value, count)
                for (mapping, function), results in self._batches.items()
                for result, count in results.items()
            ),
        )
