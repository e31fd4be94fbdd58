"""The Embedded Metric Format: a function's log line that is one JSON object with an `_aws` member becomes
metrics, as Lambda's logs do (CloudWatch's EMF specification: `_aws.Timestamp` in epoch milliseconds,
`_aws.CloudWatchMetrics` directives naming a namespace, dimension sets and metrics, every name a root member;
a metric's value a number or up to 100 numbers). A line that breaks the specification stays a log line only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from lambkin import json_depth
from lambkin.metrics.minutes import Metric, MetricMinutes, dimensions_of

MARK = '"_aws"'
MAX_VALUES = 100
MAX_DIMENSIONS = 30

log = logging.getLogger("lambkin.metrics")


class EmbeddedMetrics:
    """Watches functions' output lines (LogStore's `watch`) and records their embedded metrics in `minutes`."""

    def __init__(self, minutes: MetricMinutes) -> None:
        self.minutes = minutes

    def observe(self, group: str, lines: Sequence[str]) -> None:
        for line in lines:
            if line.startswith("{") and MARK in line:
                for series, values, at in extract(line):
                    for value in values:
                        self.minutes.record(series, value, at)


def extract(line: str) -> list[tuple[Metric, list[float], float]]:
    """The metrics one EMF line carries: (series, its values, when), or none if the line breaks the spec."""
    try:
        document = json_depth.loads(line)
        meta = document["_aws"]
        at = float(meta["Timestamp"]) / 1000
        directives = meta["CloudWatchMetrics"]
        if not isinstance(directives, list) or not math.isfinite(at):
            return []
        found: list[tuple[Metric, list[float], float]] = []
        for directive in directives:
            found += _directive(document, directive, at)
        return found
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _directive(
    document: dict[str, Any], directive: dict[str, Any], at: float
) -> list[tuple[Metric, list[float], float]]:
    namespace = directive["Namespace"]
    if not isinstance(namespace, str) or not namespace or namespace.startswith("AWS/"):
        raise ValueError("namespace")
    sets = directive.get("Dimensions") or [[]]
    found = []
    for metric in directive["Metrics"]:
        name = metric["Name"]
        values = _values(document[name])
        unit = metric.get("Unit") or "None"
        for names in sets:
            if len(names) > MAX_DIMENSIONS:
                raise ValueError("dimensions")
            dimensions = dimensions_of((key, _dimension(document[key])) for key in names)
            found.append((Metric(namespace, name, dimensions, unit), values, at))
    return found


def _values(given: Any) -> list[float]:
    values = given if isinstance(given, list) else [given]
    if len(values) > MAX_VALUES or not values:
        raise ValueError("values")
    numbers = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("value")
        numbers.append(float(value))
    return numbers


def _dimension(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("dimension")
    return value
