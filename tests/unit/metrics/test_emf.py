"""Embedded Metric Format lines read as CloudWatch's specification says, and anything else left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambkin.metrics.emf import extract
from lambkin.metrics.minutes import Metric


def emf(directives: list[dict[str, Any]], **members: Any) -> str:
    return json.dumps({"_aws": {"Timestamp": 1_700_000_000_000, "CloudWatchMetrics": directives}, **members})


def test_each_dimension_set_of_each_metric_is_a_series() -> None:
    line = emf(
        [
            {
                "Namespace": "Shop",
                "Dimensions": [["Service"], ["Service", "Stage"], []],
                "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "Hits"}],
            }
        ],
        Service="cart",
        Stage="prod",
        Latency=[10, 20.5],
        Hits=1,
        requestId="not a metric",
    )
    found = extract(line)
    assert (
        Metric("Shop", "Latency", (("Service", "cart"),), "Milliseconds"),
        [10.0, 20.5],
        1_700_000_000.0,
    ) in found
    assert (
        Metric("Shop", "Hits", (("Service", "cart"), ("Stage", "prod")), "None"),
        [1.0],
        1_700_000_000.0,
    ) in found
    assert (Metric("Shop", "Hits", (), "None"), [1.0], 1_700_000_000.0) in found
    assert len(found) == 6


@pytest.mark.parametrize(
    "line",
    [
        "plain text",
        '{"_aws": "not an object"}',
        emf([{"Namespace": "Shop", "Dimensions": [["Missing"]], "Metrics": [{"Name": "Hits"}]}], Hits=1),
        emf([{"Namespace": "Shop", "Metrics": [{"Name": "Hits"}]}], Hits="one"),
        emf([{"Namespace": "Shop", "Metrics": [{"Name": "Hits"}]}], Hits=list(range(101))),
        emf([{"Namespace": "AWS/Lambda", "Metrics": [{"Name": "Hits"}]}], Hits=1),
        emf(
            [{"Namespace": "Shop", "Dimensions": [["Service"]], "Metrics": [{"Name": "Hits"}]}],
            Hits=1,
            Service=3,
        ),
        json.dumps({"_aws": {"CloudWatchMetrics": []}}),  # no Timestamp
    ],
)
def test_a_line_that_breaks_the_specification_is_no_metric(line: str) -> None:
    assert extract(line) == []
