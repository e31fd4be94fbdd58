"""CloudWatch's dynamic labels in a GetMetricData query's Label: the metric's properties
(`${PROP('Dim.<name>')}`, `${PROP('MetricName')}`, `${PROP('Namespace')}`, `${PROP('Period')}`,
`${PROP('Stat')}`) and `${LABEL}`, the default label (the metric's name). Grafana's CloudWatch data source
writes its legends this way (an alias `{{FunctionName}}` becomes `${PROP('Dim.FunctionName')}`). The live
values (`${AVG}`, `${MAX}`, ...) and properties lambkin does not know stay as written.
"""

from __future__ import annotations

import re

from lambkin.metrics.minutes import Metric

_DYNAMIC = re.compile(r"\$\{(LABEL|PROP\('([^']*)'\))\}")


def resolve(label: str, metric: Metric, period: int, stat: str) -> str:
    """`label` with the dynamic labels of `metric`, queried by `period` seconds for `stat`, filled in."""
    dimensions = dict(metric.dimensions)
    known = {"MetricName": metric.metric, "Namespace": metric.namespace, "Period": str(period), "Stat": stat}

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name is None:
            return metric.metric
        if name.startswith("Dim."):
            return dimensions.get(name.removeprefix("Dim."), "")
        return known.get(name, match.group(0))

    return _DYNAMIC.sub(value, label)
