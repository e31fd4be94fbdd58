"""Dynamic labels: a metric's properties and its default label filled in, live values left as written."""

from __future__ import annotations

from lambkin.metrics.labels import resolve
from lambkin.metrics.minutes import Metric

INVOCATIONS = Metric("AWS/Lambda", "Invocations", (("FunctionName", "shop"),), "Count")


def test_properties_of_the_metric_are_filled_in() -> None:
    label = "${PROP('Dim.FunctionName')} ${PROP('Namespace')}/${PROP('MetricName')} ${PROP('Stat')} ${PROP('Period')}"
    assert resolve(label, INVOCATIONS, 300, "Sum") == "shop AWS/Lambda/Invocations Sum 300"


def test_label_is_the_default_label() -> None:
    assert resolve("${LABEL} (prod)", INVOCATIONS, 60, "Sum") == "Invocations (prod)"


def test_an_absent_dimension_is_empty_and_unknown_values_stay() -> None:
    assert resolve("[${PROP('Dim.Resource')}]", INVOCATIONS, 60, "Sum") == "[]"
    assert resolve("${AVG} ${PROP('Region')}", INVOCATIONS, 60, "Sum") == "${AVG} ${PROP('Region')}"
    assert resolve("plain", INVOCATIONS, 60, "Sum") == "plain"
