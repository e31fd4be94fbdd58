"""What Grafana's CloudWatch data source asks of lambkin's endpoint, call by call.

Grafana itself is not installable on this machine (no Debian, PyPI or npm package ships its server), so its
requests are replayed with boto3 as its backend (pkg/tsdb/cloudwatch) builds them for a basic metric query:
the data source's health check (ListMetrics of AWS/Billing EstimatedCharges, DescribeLogGroups with a limit
of one), the query editor's dimension keys and values (ListMetrics by namespace and metric, with a dimension
filter by name and by name and value), and the panel's query: one GetMetricData with ScanBy
TimestampAscending, LabelOptions' time zone and, per query row, a MetricStat (exact dimensions, the auto
period of 60 s, one statistic) under an Id `query<RefId>`, an optional Label written with dynamic labels,
and ReturnData false for a hidden row. SEARCH expressions (wildcard or multi-valued dimensions, "match
exact" off) and metric math are not served."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from tests.e2e.lambda_support import create_active
from tests.e2e.test_cloudwatch_metrics import post_query
from tests.harness import LambkinServer
from tests.images import BuiltImages

FUNCTION = "grafana-panel"


@pytest.fixture(scope="module")
def cw(server: LambkinServer) -> Any:
    return server.client("cloudwatch")


@pytest.fixture(scope="module")
def invoked(server: LambkinServer, cw: Any, test_images: BuiltImages) -> datetime:
    """Three invocations of FUNCTION, sampled into AWS/Lambda; when they happened."""
    lam = server.client("lambda")
    create_active(lam, FUNCTION, test_images.push("python-handlers", server.registry, tag="v1"))
    at = datetime.now(UTC)
    for _ in range(3):
        lam.invoke(FunctionName=FUNCTION, Payload=b"{}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        listed = cw.list_metrics(
            Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}]
        )
        if any(m["MetricName"] == "Invocations" for m in listed["Metrics"]):
            return at
        time.sleep(1)
    raise AssertionError("the invocations never reached AWS/Lambda")


def test_the_data_source_s_health_check_passes(server: LambkinServer, cw: Any) -> None:
    billing = cw.list_metrics(Namespace="AWS/Billing", MetricName="EstimatedCharges")
    assert billing["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert billing["Metrics"] == []
    groups = server.client("logs").describe_log_groups(limit=1)
    assert groups["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_query_editor_lists_dimension_keys_and_values(cw: Any, invoked: datetime) -> None:
    keys = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations")
    assert {d["Name"] for m in keys["Metrics"] for d in m["Dimensions"]} >= {"FunctionName", "Resource"}
    values = cw.list_metrics(
        Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=[{"Name": "FunctionName"}]
    )
    assert FUNCTION in {
        d["Value"] for m in values["Metrics"] for d in m["Dimensions"] if d["Name"] == "FunctionName"
    }
    narrowed = cw.list_metrics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}, {"Name": "Resource"}],
    )
    assert [m["Dimensions"] for m in narrowed["Metrics"]] == [
        [{"Name": "FunctionName", "Value": FUNCTION}, {"Name": "Resource", "Value": FUNCTION}]
    ]


def test_a_panel_s_metric_stat_queries_are_answered(cw: Any, invoked: datetime) -> None:
    end = datetime.now(UTC) + timedelta(seconds=61)
    start = end - timedelta(hours=3, seconds=17)  # a panel's range is not minute-aligned
    function = [{"Name": "FunctionName", "Value": FUNCTION}]

    def row(ref: str, metric: str, stat: str, **extra: Any) -> dict[str, Any]:
        return {
            "Id": f"query{ref}",
            "ReturnData": True,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": function},
                "Period": 60,
                "Stat": stat,
            },
            **extra,
        }

    answer = cw.get_metric_data(
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
        LabelOptions={"Timezone": "+0000"},
        MetricDataQueries=[
            row("A", "Invocations", "Sum"),
            row("B", "Duration", "Average", Label="${PROP('Dim.FunctionName')} ${PROP('Stat')} ${LABEL}"),
            row("C", "Errors", "Sum", ReturnData=False),
        ],
    )

    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert set(results) == {"queryA", "queryB"}  # a hidden row is computed, not returned
    assert all(r["StatusCode"] == "Complete" for r in results.values())
    invocations = results["queryA"]
    assert invocations["Label"] == "Invocations"
    assert sum(invocations["Values"]) == 3
    assert invocations["Timestamps"] == sorted(invocations["Timestamps"])
    assert all(
        t.second == 0 and invoked - timedelta(minutes=1) <= t <= end for t in invocations["Timestamps"]
    )
    duration = results["queryB"]
    assert duration["Label"] == f"{FUNCTION} Average Duration"
    assert all(value > 0 for value in duration["Values"])
    assert "NextToken" not in answer


def test_the_same_query_in_the_query_protocol_of_older_grafanas(
    server: LambkinServer, invoked: datetime
) -> None:
    """Grafana before its move to the AWS SDK for Go v2 spoke CloudWatch's query protocol (form in, XML out):
    the request is serialized by botocore's own query serializer from the service model."""
    import botocore.session
    from botocore.serialize import create_serializer

    end = datetime.now(UTC) + timedelta(seconds=61)
    params = {
        "StartTime": end - timedelta(hours=1),
        "EndTime": end,
        "ScanBy": "TimestampAscending",
        "MetricDataQueries": [
            {
                "Id": "queryA",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
    }
    operation = (
        botocore.session.get_session().get_service_model("cloudwatch").operation_model("GetMetricData")
    )
    form = urlencode(create_serializer("query").serialize_to_request(params, operation)["body"])
    answer = post_query(server, form, timeout=30)

    assert answer.status_code == 200, answer.text
    document = ElementTree.fromstring(answer.text)
    [result] = [e for e in document.iter() if e.tag.endswith("}member") and _child(e, "Id") == "queryA"]
    assert _child(result, "StatusCode") == "Complete"
    [values] = [child for child in result if child.tag.endswith("}Values")]
    assert sum(float(value.text or "nan") for value in values) == 3


def _child(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if child.tag.endswith("}" + name):
            return child.text
    return None
