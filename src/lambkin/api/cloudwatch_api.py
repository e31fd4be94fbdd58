"""The CloudWatch metrics API over the one-minute aggregates: PutMetricData, GetMetricStatistics,
GetMetricData (metric statistics; no math expressions), ListMetrics. Percentiles are not kept, so
ExtendedStatistics and percentile stats are refused with a clear InvalidParameterValue."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lambkin.metrics.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from lambkin.metrics.labels import resolve
from lambkin.metrics.minutes import Aggregate, Bucket, Metric, MetricMinutes, dimensions_of
from lambkin.protocol.service import Handler, RequestContext

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_DATAPOINTS = 1440
PAST_S = 14 * 86400  # PutMetricData: a timestamp at most two weeks old...
FUTURE_S = 2 * 3600  # ...and at most two hours ahead
LIST_PAGE = 500
RECENT_S = 3 * 3600  # ListMetrics' RecentlyActive=PT3H
LISTED_S = 14 * 86400  # metrics without data for two weeks are not listed
_QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")


def cloudwatch_handlers(minutes: MetricMinutes) -> dict[str, Handler]:
    async def put_metric_data(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        namespace = params["Namespace"]
        if namespace.startswith("AWS/"):
            raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
        now = minutes.clock.now()
        points = [_point(namespace, datum, n, now) for n, datum in enumerate(params["MetricData"], 1)]
        for series, value, at in points:
            minutes.fold(series, value, at)
        await minutes.flush()  # stored before the caller hears yes
        return {}

    async def get_metric_statistics(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        statistics, extended = params.get("Statistics"), params.get("ExtendedStatistics")
        if statistics and extended:
            raise InvalidParameterCombination(
                "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have "
                "specified both."
            )
        if not statistics and not extended:
            raise MissingParameter("Either the parameter Statistics or ExtendedStatistics is required.")
        if extended:
            raise _no_percentiles()
        start, end, period = _window(
            _seconds(params["StartTime"]), _seconds(params["EndTime"]), params["Period"]
        )
        if (end - start) // period > MAX_DATAPOINTS:
            count = (end - start) // period
            raise InvalidParameterCombination(
                f"You have requested up to {count:,} datapoints, which exceeds the limit of {MAX_DATAPOINTS:,}. "
                "You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            )
        unit = params.get("Unit")
        series = Metric(
            params["Namespace"], params["MetricName"], _dimensions(params.get("Dimensions")), unit or "None"
        )
        buckets = await minutes.buckets(series, start, end, period, any_unit=unit is None)
        return {
            "Label": params["MetricName"],
            "Datapoints": [_datapoint(bucket, statistics or ()) for bucket in buckets],
        }

    async def get_metric_data(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        start = _seconds(params["StartTime"])
        end = _seconds(params["EndTime"])
        if start >= end:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        queries = params["MetricDataQueries"]
        ids = [query["Id"] for query in queries]
        for n, query_id in enumerate(ids, 1):
            if not _QUERY_ID.fullmatch(query_id):
                raise InvalidParameterValue(
                    f"The value {query_id} for parameter MetricDataQueries.member.{n}.Id is invalid: it must "
                    "begin with a lowercase letter and contain only letters, numbers and underscores."
                )
        if len(set(ids)) != len(ids):
            raise InvalidParameterValue("The values for parameter Id in MetricDataQueries are not unique.")
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for n, query in enumerate(queries, 1):
            if query.get("Expression") is not None:
                raise InvalidParameterValue(
                    f"MetricDataQueries.member.{n}.Expression: lambkin does not evaluate metric math; ask for "
                    "each metric's MetricStat instead."
                )
            stat = query.get("MetricStat")
            if stat is None:
                raise MissingParameter(
                    f"Exactly one of MetricStat and Expression is required in MetricDataQueries.member.{n}."
                )
            if not query.get("ReturnData", True):
                continue
            results.append(await _result(minutes, query, stat, n, start, end, descending))
        offset = _offset(params.get("NextToken"))
        limit = params.get("MaxDatapoints") or 100_800
        return _page(results, offset, limit)

    async def list_metrics(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        now = minutes.clock.now()
        recent = params.get("RecentlyActive") == "PT3H"
        since = int(now - (RECENT_S if recent else LISTED_S))
        found = await minutes.metrics(params.get("Namespace"), params.get("MetricName"), since)
        wanted = [(f["Name"], f.get("Value")) for f in params.get("Dimensions") or []]
        listed = [s for s in found if _matches(s, wanted)]
        offset = _offset(params.get("NextToken"))
        page = listed[offset : offset + LIST_PAGE]
        output: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": s.namespace,
                    "MetricName": s.metric,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in s.dimensions],
                }
                for s in page
            ]
        }
        if offset + len(page) < len(listed):
            output["NextToken"] = _token(offset + len(page))
        return output

    return {
        "PutMetricData": put_metric_data,
        "GetMetricStatistics": get_metric_statistics,
        "GetMetricData": get_metric_data,
        "ListMetrics": list_metrics,
    }


def _point(namespace: str, datum: dict[str, Any], n: int, now: float) -> tuple[Metric, Aggregate, float]:
    where = f"MetricData.member.{n}"
    at = _seconds(datum["Timestamp"]) if datum.get("Timestamp") is not None else now
    if at < now - PAST_S:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time within the past two weeks."
        )
    if at > now + FUTURE_S:
        raise InvalidParameterValue(
            f"The parameter {where}.Timestamp must specify a time no more than two hours in the future."
        )
    given = [key for key in ("Value", "StatisticValues", "Values") if datum.get(key) is not None]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive and you have "
            "specified both."
        )
    if not given:
        raise MissingParameter(f"The parameter {where}.Value is required.")
    series = Metric(
        namespace, datum["MetricName"], _dimensions(datum.get("Dimensions")), datum.get("Unit") or "None"
    )
    if "Value" in given:
        return series, Aggregate.of(_finite(datum["Value"], f"{where}.Value")), at
    if "StatisticValues" in given:
        s = datum["StatisticValues"]
        value = Aggregate(
            _finite(s["SampleCount"], f"{where}.StatisticValues.SampleCount"),
            _finite(s["Sum"], f"{where}.StatisticValues.Sum"),
            _finite(s["Minimum"], f"{where}.StatisticValues.Minimum"),
            _finite(s["Maximum"], f"{where}.StatisticValues.Maximum"),
        )
        return series, value, at
    values = [_finite(v, f"{where}.Values") for v in datum["Values"]]
    counts = [_finite(c, f"{where}.Counts") for c in datum.get("Counts") or [1.0] * len(values)]
    if len(counts) != len(values):
        raise InvalidParameterValue(
            f"The parameters {where}.Values and {where}.Counts must be of the same size."
        )
    if not values:
        raise MissingParameter(f"The parameter {where}.Value is required.")
    folded = Aggregate.of(values[0], counts[0])
    for each, count in zip(values[1:], counts[1:], strict=True):
        folded.fold(Aggregate.of(each, count))
    return series, folded, at


def _finite(value: float, where: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InvalidParameterValue(f"The value {value} for parameter {where} is invalid.")
    return number


def _dimensions(given: Sequence[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    return dimensions_of((d["Name"], d["Value"]) for d in given or [])


def _matches(series: Metric, wanted: list[tuple[str, str | None]]) -> bool:
    have = dict(series.dimensions)
    return all(name in have and (value is None or have[name] == value) for name, value in wanted)


def _seconds(value: datetime | float | int) -> int:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(stamp.timestamp())
    return int(value)


def _window(start: int, end: int, period: int) -> tuple[int, int, int]:
    """[start, end) in epoch seconds, checked, and the period as kept: from the start's minute, by minutes."""
    if start == end:
        raise InvalidParameterValue("The parameter StartTime must not equal parameter EndTime.")
    if start > end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    if (period < 60 and period not in (1, 5, 10, 20, 30)) or (period >= 60 and period % 60):
        raise InvalidParameterValue("The parameter Period must be 1, 5, 10, 20, 30, or a multiple of 60.")
    return start // 60 * 60, end, max(period, 60)  # minutes are the finest grain kept


def _datapoint(bucket: Bucket, statistics: Sequence[str]) -> dict[str, Any]:
    point: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(bucket.start, UTC), "Unit": bucket.unit}
    for name in statistics:
        point[name] = _statistic(bucket.value, name)
    return point


def _statistic(value: Aggregate, name: str) -> float:
    if name == "SampleCount":
        return value.samples
    if name == "Sum":
        return value.total
    if name == "Minimum":
        return value.minimum
    if name == "Maximum":
        return value.maximum
    return value.total / value.samples if value.samples else 0.0


def _no_percentiles() -> InvalidParameterValue:
    return InvalidParameterValue(
        "lambkin keeps sample counts, sums, minimums and maximums, not percentiles: ask for one of "
        f"{', '.join(STATISTICS)}."
    )


async def _result(
    minutes: MetricMinutes,
    query: dict[str, Any],
    stat: dict[str, Any],
    n: int,
    start: int,
    end: int,
    descending: bool,
) -> dict[str, Any]:
    name = stat["Stat"]
    if name not in STATISTICS:
        if re.fullmatch(r"(p|tm|tc|ts|wm|pr)[0-9.:%]+", name.lower()):
            raise _no_percentiles()
        raise InvalidParameterValue(
            f"The value {name} for parameter MetricDataQueries.member.{n}.MetricStat.Stat is not a valid statistic."
        )
    metric = stat["Metric"]
    period = int(query.get("Period") or stat["Period"])
    first, last, step = _window(start, end, period)
    unit = stat.get("Unit")
    series = Metric(
        metric.get("Namespace", ""),
        metric.get("MetricName", ""),
        _dimensions(metric.get("Dimensions")),
        unit or "None",
    )
    buckets = await minutes.buckets(series, first, last, step, any_unit=unit is None)
    if descending:
        buckets.reverse()
    return {
        "Id": query["Id"],
        "Label": resolve(query["Label"], series, period, name) if query.get("Label") else series.metric,
        "Timestamps": [datetime.fromtimestamp(b.start, UTC) for b in buckets],
        "Values": [_statistic(b.value, name) for b in buckets],
        "StatusCode": "Complete",
    }


def _page(results: list[dict[str, Any]], offset: int, limit: int) -> dict[str, Any]:
    """At most `limit` datapoints from `offset` (counted over all results in order); the rest by NextToken."""
    paged: list[dict[str, Any]] = []
    position, taken = 0, 0
    more = False
    for result in results:
        count = len(result["Values"])
        lo = min(max(offset - position, 0), count)
        hi = min(lo + max(limit - taken, 0), count)
        position += count
        taken += hi - lo
        if hi < count:
            more = True
        paged.append(
            {
                **result,
                "Timestamps": result["Timestamps"][lo:hi],
                "Values": result["Values"][lo:hi],
                "StatusCode": "PartialData" if hi < count else "Complete",
            }
        )
    output: dict[str, Any] = {"MetricDataResults": paged, "Messages": []}
    if more:
        output["NextToken"] = _token(offset + taken)
    return output


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith("o"):
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidNextToken(
            "The service couldn't process your request because the NextToken is invalid."
        ) from exc
