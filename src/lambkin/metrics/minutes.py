"""CloudWatch's one-minute aggregates: every datapoint of a metric (namespace, name, dimensions, unit) folded
into its minute's sample count, sum, minimum and maximum, kept for the retention period in the store.

What lambkin records itself (invocations, queue activity) is folded in memory and written every FLUSH_S in
one unit of work, so no request waits on it; PutMetricData's points are written before it answers. Reads
flush first, so a read sees everything recorded before it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from lambkin.clock import Clock, SystemClock
from lambkin.store import Migration, Store

MIGRATIONS = [
    Migration(
        "metrics",
        1,
        """
        CREATE TABLE metric_minutes (
            namespace TEXT NOT NULL,
            metric TEXT NOT NULL,
            dimensions TEXT NOT NULL,
            unit TEXT NOT NULL,
            minute INTEGER NOT NULL,
            samples REAL NOT NULL,
            total REAL NOT NULL,
            minimum REAL NOT NULL,
            maximum REAL NOT NULL,
            PRIMARY KEY (namespace, metric, dimensions, unit, minute)
        );
        CREATE INDEX metric_minutes_by_minute ON metric_minutes (minute)
        """,
    )
]

FLUSH_S = 5.0
EXPIRE_EVERY_S = 3600.0

Dimensions = tuple[tuple[str, str], ...]  # sorted by name

log = logging.getLogger("lambkin.metrics")


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric (namespace, name, dimensions, unit): what ListMetrics lists and a statistics query names."""

    namespace: str
    metric: str
    dimensions: Dimensions
    unit: str = "None"


@dataclass(slots=True)
class Aggregate:
    samples: float
    total: float
    minimum: float
    maximum: float

    @staticmethod
    def of(value: float, count: float = 1.0) -> Aggregate:
        return Aggregate(count, value * count, value, value)

    def fold(self, other: Aggregate) -> None:
        self.samples += other.samples
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One period's statistics, from `start` (epoch seconds)."""

    start: int
    unit: str
    value: Aggregate


def dimensions_of(pairs: Iterable[tuple[str, str]]) -> Dimensions:
    return tuple(sorted(pairs))


_UPSERT = """
INSERT INTO metric_minutes (namespace, metric, dimensions, unit, minute, samples, total, minimum, maximum)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (namespace, metric, dimensions, unit, minute) DO UPDATE SET
    samples = metric_minutes.samples + excluded.samples,
    total = metric_minutes.total + excluded.total,
    minimum = CASE WHEN excluded.minimum < metric_minutes.minimum
                   THEN excluded.minimum ELSE metric_minutes.minimum END,
    maximum = CASE WHEN excluded.maximum > metric_minutes.maximum
                   THEN excluded.maximum ELSE metric_minutes.maximum END
"""


class MetricMinutes:
    """The aggregates of one account's metrics, on `db` (run MIGRATIONS first)."""

    def __init__(self, db: Store, retention_s: float, clock: Clock | None = None) -> None:
        self.db = db
        self.retention_s = retention_s
        self.clock = clock or SystemClock()
        self._pending: dict[tuple[Metric, int], Aggregate] = {}

    def record(self, metric: Metric, value: float, at: float | None = None, count: float = 1.0) -> None:
        """Folds one datapoint (`count` samples of `value`) into its minute, in memory until the next flush."""
        self.fold(metric, Aggregate.of(value, count), at)

    def fold(self, metric: Metric, value: Aggregate, at: float | None = None) -> None:
        minute = int((self.clock.now() if at is None else at) // 60) * 60
        held = self._pending.get((metric, minute))
        if held is None:
            self._pending[(metric, minute)] = Aggregate(
                value.samples, value.total, value.minimum, value.maximum
            )
        else:
            held.fold(value)

    async def flush(self) -> None:
        """Writes what was folded since the last flush, in one unit of work (kept for the next on failure)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        rows = [
            (
                s.namespace,
                s.metric,
                _encode(s.dimensions),
                s.unit,
                minute,
                a.samples,
                a.total,
                a.minimum,
                a.maximum,
            )
            for (s, minute), a in pending.items()
        ]
        try:
            await self.db.run(lambda conn: conn.executemany(_UPSERT, rows))
        except Exception:
            for key, value in pending.items():  # folded back under anything recorded meanwhile
                held = self._pending.setdefault(key, value)
                if held is not value:
                    held.fold(value)
            raise

    async def run(self) -> None:
        """Flushes every FLUSH_S and drops minutes older than the retention period every hour."""
        expired_at = 0.0
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await self.flush()
                if self.clock.now() - expired_at >= EXPIRE_EVERY_S:
                    expired_at = self.clock.now()
                    await self._expire(int(expired_at - self.retention_s))
            except Exception:
                log.exception("metrics: writing the minutes failed; trying again in %s s", FLUSH_S)

    async def _expire(self, cutoff: int) -> None:
        await self.db.run(lambda conn: conn.execute("DELETE FROM metric_minutes WHERE minute < ?", (cutoff,)))

    async def buckets(
        self, metric: Metric, start: int, end: int, period: int, any_unit: bool
    ) -> list[Bucket]:
        """The statistics of `metric` in [start, end) by `period` seconds from `start`, one bucket per period
        (and unit, when `any_unit`) with data, in time order."""
        await self.flush()
        sql = (
            "SELECT unit, minute, samples, total, minimum, maximum FROM metric_minutes"
            " WHERE namespace = ? AND metric = ? AND dimensions = ? AND minute >= ? AND minute < ?"
        )
        params: list[object] = [metric.namespace, metric.metric, _encode(metric.dimensions), start, end]
        if not any_unit:
            sql += " AND unit = ?"
            params.append(metric.unit)
        rows = await self.db.run(lambda conn: conn.execute(sql, params).fetchall())
        found: dict[tuple[int, str], Aggregate] = {}
        for unit, minute, samples, total, minimum, maximum in rows:
            key = (start + (int(minute) - start) // period * period, str(unit))
            value = Aggregate(float(samples), float(total), float(minimum), float(maximum))
            held = found.get(key)
            if held is None:
                found[key] = value
            else:
                held.fold(value)
        return [Bucket(at, unit, value) for (at, unit), value in sorted(found.items())]

    async def metrics(self, namespace: str | None, metric: str | None, since: int) -> list[Metric]:
        """Every metric with data since `since`, of `namespace` and named `metric` when given."""
        await self.flush()
        sql = "SELECT DISTINCT namespace, metric, dimensions FROM metric_minutes WHERE minute >= ?"
        params: list[object] = [since]
        if namespace is not None:
            sql += " AND namespace = ?"
            params.append(namespace)
        if metric is not None:
            sql += " AND metric = ?"
            params.append(metric)
        sql += " ORDER BY namespace, metric, dimensions"
        rows = await self.db.run(lambda conn: conn.execute(sql, params).fetchall())
        return [Metric(str(n), str(m), _decode(str(d))) for n, m, d in rows]

    def close(self) -> None:
        self.db.close()


def _encode(dimensions: Dimensions) -> str:
    return json.dumps([list(pair) for pair in dimensions], separators=(",", ":"))


def _decode(text: str) -> Dimensions:
    return tuple((str(name), str(value)) for name, value in json.loads(text))
