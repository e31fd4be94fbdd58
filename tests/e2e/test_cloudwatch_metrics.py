"""The CloudWatch metrics API with boto3 and the AWS CLI: datapoints put with PutMetricData come back from
GetMetricStatistics and GetMetricData as one-minute statistics, ListMetrics lists them by dimension, bad
input gets CloudWatch's errors, the query protocol answers XML, and only a caller allowed cloudwatch:* gets in."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.cli import aws
from tests.e2e.lambda_support import create_active
from tests.e2e.test_authorization import READ_ONLY, client, user
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages


@pytest.fixture(scope="module")
def cw(server: LambkinServer) -> Any:
    return server.client("cloudwatch")


def minute_ago(minutes: int) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes)


def refused(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_put_datapoints_come_back_as_one_minute_statistics(cw: Any) -> None:
    at = minute_ago(3)
    service = [{"Name": "Service", "Value": "checkout"}]
    cw.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": service,
                "Timestamp": at,
                "Value": 10.0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": service,
                "Timestamp": at,
                "Value": 30.0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": service,
                "Timestamp": at + timedelta(minutes=1),
                "StatisticValues": {"SampleCount": 4, "Sum": 100, "Minimum": 5, "Maximum": 50},
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": service,
                "Timestamp": at + timedelta(minutes=1),
                "Values": [1.0, 2.0],
                "Counts": [1.0, 3.0],
                "Unit": "Milliseconds",
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace="Shop",
        MetricName="Latency",
        Dimensions=service,
        StartTime=at - timedelta(minutes=5),
        EndTime=at + timedelta(minutes=5),
        Period=60,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
    )
    points = sorted(got["Datapoints"], key=lambda p: p["Timestamp"])
    assert got["Label"] == "Latency"
    assert [(p["Timestamp"], p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) for p in points] == [
        (at, 2.0, 40.0, 10.0, 30.0),
        (at + timedelta(minutes=1), 8.0, 107.0, 1.0, 50.0),
    ]
    assert [p["Average"] for p in points] == [20.0, 107.0 / 8]
    assert {p["Unit"] for p in points} == {"Milliseconds"}
    whole = cw.get_metric_statistics(
        Namespace="Shop",
        MetricName="Latency",
        Dimensions=service,
        StartTime=at,
        EndTime=at + timedelta(minutes=5),
        Period=300,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [(p["Timestamp"], p["Sum"]) for p in whole] == [(at, 147.0)]
    other_unit = cw.get_metric_statistics(
        Namespace="Shop",
        MetricName="Latency",
        Dimensions=service,
        StartTime=at,
        EndTime=at + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
        Unit="Seconds",
    )
    assert other_unit["Datapoints"] == []  # a unit filters; nothing is converted
    other_dimensions = cw.get_metric_statistics(
        Namespace="Shop",
        MetricName="Latency",
        StartTime=at,
        EndTime=at + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )
    assert other_dimensions["Datapoints"] == []  # dimensions must match the published set exactly


def test_get_metric_data_answers_each_query_newest_first(cw: Any) -> None:
    at = minute_ago(4)
    data = [
        {"MetricName": "Orders", "Timestamp": at + timedelta(minutes=i), "Value": float(i + 1)}
        for i in range(3)
    ]
    cw.put_metric_data(Namespace="Shop", MetricData=data)
    metric = {"Namespace": "Shop", "MetricName": "Orders"}
    got = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "total", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}},
            {
                "Id": "most",
                "MetricStat": {"Metric": metric, "Period": 180, "Stat": "Maximum"},
                "Label": "peak",
            },
            {
                "Id": "hidden",
                "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
                "ReturnData": False,
            },
        ],
        StartTime=at,
        EndTime=at + timedelta(minutes=3),
    )
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert set(results) == {"total", "most"}
    assert results["total"]["Values"] == [3.0, 2.0, 1.0]
    assert results["total"]["Timestamps"] == [at + timedelta(minutes=m) for m in (2, 1, 0)]
    assert results["total"]["StatusCode"] == "Complete"
    assert (results["most"]["Label"], results["most"]["Values"]) == ("peak", [3.0])
    ascending = cw.get_metric_data(
        MetricDataQueries=[{"Id": "total", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
        StartTime=at,
        EndTime=at + timedelta(minutes=3),
        ScanBy="TimestampAscending",
        MaxDatapoints=2,
    )
    first = ascending["MetricDataResults"][0]
    assert (first["Values"], first["StatusCode"]) == ([1.0, 2.0], "PartialData")
    rest = cw.get_metric_data(
        MetricDataQueries=[{"Id": "total", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}],
        StartTime=at,
        EndTime=at + timedelta(minutes=3),
        ScanBy="TimestampAscending",
        MaxDatapoints=2,
        NextToken=ascending["NextToken"],
    )
    assert rest["MetricDataResults"][0]["Values"] == [3.0] and "NextToken" not in rest


def test_list_metrics_filters_by_namespace_name_and_dimensions(cw: Any) -> None:
    for queue in ("a", "b"):
        cw.put_metric_data(
            Namespace="Jobs",
            MetricData=[
                {"MetricName": "Depth", "Dimensions": [{"Name": "Queue", "Value": queue}], "Value": 1}
            ],
        )
    cw.put_metric_data(Namespace="Jobs", MetricData=[{"MetricName": "Runs", "Value": 1}])
    listed = cw.list_metrics(Namespace="Jobs")["Metrics"]
    assert sorted((m["MetricName"], tuple(d["Value"] for d in m["Dimensions"])) for m in listed) == [
        ("Depth", ("a",)),
        ("Depth", ("b",)),
        ("Runs", ()),
    ]
    by_value = cw.list_metrics(Namespace="Jobs", Dimensions=[{"Name": "Queue", "Value": "b"}])["Metrics"]
    assert by_value == [
        {"Namespace": "Jobs", "MetricName": "Depth", "Dimensions": [{"Name": "Queue", "Value": "b"}]}
    ]
    assert len(cw.list_metrics(Namespace="Jobs", Dimensions=[{"Name": "Queue"}])["Metrics"]) == 2
    assert [
        m["MetricName"] for m in cw.list_metrics(MetricName="Runs", RecentlyActive="PT3H")["Metrics"]
    ] == ["Runs"]


def test_bad_input_gets_cloudwatch_errors(cw: Any) -> None:
    now = datetime.now(UTC)
    assert refused(
        cw.put_metric_data, Namespace="AWS/Lambda", MetricData=[{"MetricName": "m", "Value": 1}]
    ) == (
        "InvalidParameterValue",
        "The value AWS/Lambda for parameter Namespace is invalid.",
    )
    old = [
        {"MetricName": "m", "Value": 1},
        {"MetricName": "m", "Value": 1, "Timestamp": now - timedelta(days=15)},
    ]
    assert refused(cw.put_metric_data, Namespace="Shop", MetricData=old) == (
        "InvalidParameterValue",
        "The parameter MetricData.member.2.Timestamp must specify a time within the past two weeks.",
    )
    both = [
        {
            "MetricName": "m",
            "Value": 1,
            "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
        }
    ]
    assert refused(cw.put_metric_data, Namespace="Shop", MetricData=both) == (
        "InvalidParameterCombination",
        "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually "
        "exclusive and you have specified both.",
    )
    window = {"Namespace": "Shop", "MetricName": "Latency", "Period": 60}
    assert refused(cw.get_metric_statistics, **window, StartTime=now, EndTime=now, Statistics=["Sum"]) == (
        "InvalidParameterValue",
        "The parameter StartTime must not equal parameter EndTime.",
    )
    code, message = refused(
        cw.get_metric_statistics,
        **{**window, "Period": 60},
        StartTime=now - timedelta(days=2),
        EndTime=now,
        Statistics=["Sum"],
    )
    assert code == "InvalidParameterCombination" and "exceeds the limit of 1,440" in message
    code, _ = refused(
        cw.get_metric_statistics,
        **window,
        StartTime=now - timedelta(hours=1),
        EndTime=now,
        ExtendedStatistics=["p99"],
    )
    assert code == "InvalidParameterValue"  # percentiles are not kept: said, not answered wrongly
    code, _ = refused(
        cw.get_metric_data,
        MetricDataQueries=[
            {
                "Id": "Upper",
                "MetricStat": {
                    "Metric": {"Namespace": "Shop", "MetricName": "x"},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now,
    )
    assert code == "InvalidParameterValue"
    with pytest.raises(cw.exceptions.InvalidParameterValueException):  # the SDK's class, from the wire code
        cw.put_metric_data(Namespace="AWS/SQS", MetricData=[{"MetricName": "m", "Value": 1}])


def test_the_aws_cli_reads_statistics(server: LambkinServer, cw: Any) -> None:
    at = minute_ago(2)
    cw.put_metric_data(Namespace="Cli", MetricData=[{"MetricName": "Hits", "Timestamp": at, "Value": 7}])
    got = aws(
        server,
        "cloudwatch",
        "get-metric-statistics",
        "--namespace",
        "Cli",
        "--metric-name",
        "Hits",
        "--start-time",
        (at - timedelta(minutes=1)).isoformat(),
        "--end-time",
        (at + timedelta(minutes=1)).isoformat(),
        "--period",
        "60",
        "--statistics",
        "Sum",
        "SampleCount",
    )
    assert [(p["Sum"], p["SampleCount"]) for p in got["Datapoints"]] == [(7.0, 1.0)]


def post_query(server: LambkinServer, form: str, **options: Any) -> httpx.Response:
    """A CloudWatch query-protocol request (the form as the body), signed by the root key, and its answer."""
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "monitoring", REGION).add_auth(request)
    return httpx.post(server.endpoint + "/", content=form, headers=dict(request.headers), **options)


def test_the_query_protocol_answers_xml(server: LambkinServer, cw: Any) -> None:
    cw.put_metric_data(Namespace="Legacy", MetricData=[{"MetricName": "Old", "Value": 1}])
    answer = post_query(server, "Action=ListMetrics&Version=2010-08-01&Namespace=Legacy")
    assert answer.status_code == 200
    assert "<ListMetricsResponse" in answer.text and "<MetricName>Old</MetricName>" in answer.text


def test_only_callers_allowed_cloudwatch_get_in(server: LambkinServer) -> None:
    reader = client(server, "cloudwatch", user(server, "metrics-reader", READ_ONLY))
    assert "Metrics" in reader.list_metrics(Namespace="Shop")
    code, _ = refused(reader.put_metric_data, Namespace="Shop", MetricData=[{"MetricName": "m", "Value": 1}])
    assert code == "AccessDenied"
    nobody = client(server, "cloudwatch", user(server, "metrics-nobody"))
    code, _ = refused(nobody.list_metrics)
    assert code == "AccessDenied"


def test_datapoints_put_are_kept_across_a_restart(server: LambkinServer, cw: Any) -> None:
    at = minute_ago(1)
    cw.put_metric_data(Namespace="Durable", MetricData=[{"MetricName": "Kept", "Timestamp": at, "Value": 3}])
    server.restart()
    again = server.client("cloudwatch")
    deadline = time.monotonic() + 60
    while True:
        try:
            got = again.get_metric_statistics(
                Namespace="Durable",
                MetricName="Kept",
                StartTime=at,
                EndTime=at + timedelta(minutes=1),
                Period=60,
                Statistics=["Sum"],
            )
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert [p["Sum"] for p in got["Datapoints"]] == [3.0]


def test_a_function_s_embedded_metric_format_lines_become_metrics(
    server: LambkinServer, cw: Any, test_images: BuiltImages
) -> None:
    image = test_images.push("python-handlers", server.registry, tag="v1")
    lam = server.client("lambda")
    create_active(lam, "emf-logger", image, ImageConfig={"Command": ["app.log"]})
    at = minute_ago(1)
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": int(at.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": "Emf",
                        "Dimensions": [["Route"]],
                        "Metrics": [{"Name": "Work", "Unit": "Count"}],
                    }
                ],
            },
            "Route": "/pay",
            "Work": [2, 5],
        }
    )
    lam.invoke(FunctionName="emf-logger", Payload=json.dumps({"lines": [line, "not a metric"]}).encode())
    got = cw.get_metric_statistics(
        Namespace="Emf",
        MetricName="Work",
        Dimensions=[{"Name": "Route", "Value": "/pay"}],
        StartTime=at,
        EndTime=at + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum", "Maximum"],
    )
    assert [(p["SampleCount"], p["Sum"], p["Maximum"], p["Unit"]) for p in got["Datapoints"]] == [
        (2.0, 7.0, 5.0, "Count")
    ]
    logs = server.client("logs")
    events = logs.filter_log_events(logGroupName="/aws/lambda/emf-logger", filterPattern="_aws")["events"]
    assert [e["message"] for e in events] == [line]  # and the line stays in the log, as in Lambda


def eventually_statistics(
    cw: Any, namespace: str, metric: str, dimension: tuple[str, str], statistic: str, start: datetime
) -> list[float]:
    """One statistic of a metric over the ten minutes from `start`, once its datapoints show (lambkin
    samples its counts every few seconds)."""
    deadline = time.monotonic() + 90
    while True:
        points: list[dict[str, Any]] = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
            StartTime=start,
            EndTime=start + timedelta(minutes=10),
            Period=600,
            Statistics=[statistic],
        )["Datapoints"]
        if points or time.monotonic() > deadline:
            assert points, f"never appeared: {metric}"
            return [p[statistic] for p in points]
        time.sleep(1)


def test_invocations_errors_throttles_and_queue_depths_are_in_aws_namespaces(
    server: LambkinServer, cw: Any, test_images: BuiltImages
) -> None:
    image = test_images.push("python-handlers", server.registry, tag="v1")
    lam = server.client("lambda")
    create_active(lam, "counted", image, ImageConfig={"Command": ["app.log"]})
    create_active(lam, "refused", image)
    lam.put_function_concurrency(FunctionName="refused", ReservedConcurrentExecutions=0)
    start = minute_ago(1)
    for _ in range(3):
        lam.invoke(FunctionName="counted", Payload=b'{"lines": ["x"]}')
    once = server.client("lambda", config=Config(retries={"max_attempts": 0}))  # each attempt is a throttle
    with pytest.raises(once.exceptions.TooManyRequestsException):
        once.invoke(FunctionName="refused", Payload=b"{}")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="sampled")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    counted = ("FunctionName", "counted")
    lambda_ = "AWS/Lambda"
    assert sum(eventually_statistics(cw, lambda_, "Invocations", counted, "Sum", start)) == 3
    assert sum(eventually_statistics(cw, lambda_, "Duration", counted, "SampleCount", start)) == 3
    refused = ("FunctionName", "refused")
    assert sum(eventually_statistics(cw, lambda_, "Throttles", refused, "Sum", start)) == 1
    depth = "ApproximateNumberOfMessagesVisible"
    assert max(eventually_statistics(cw, "AWS/SQS", depth, ("QueueName", "sampled"), "Maximum", start)) == 2
    listed = cw.list_metrics(
        Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": "counted"}]
    )
    assert {"Invocations", "Duration"} <= {m["MetricName"] for m in listed["Metrics"]}


def test_a_queue_s_sends_receives_and_deletes_are_counted_in_aws_sqs(server: LambkinServer, cw: Any) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="counted-queue")["QueueUrl"]
    start = minute_ago(1)
    sqs.send_message(QueueUrl=url, MessageBody="a" * 100)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "1", "MessageBody": "b" * 300}, {"Id": "2", "MessageBody": "c" * 200}],
    )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    while len(received) < 3:
        received += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == 3
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)  # one empty receive
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received[:2])],
    )
    queue = ("QueueName", "counted-queue")

    def total(metric: str, expected: float) -> float:
        """The metric's sum once it reaches `expected` (a sample may fall between the requests)."""
        deadline = time.monotonic() + 60
        while True:
            found = sum(eventually_statistics(cw, "AWS/SQS", metric, queue, "Sum", start))
            if found == expected or time.monotonic() > deadline:
                return found
            time.sleep(1)

    assert total("NumberOfMessagesSent", 3) == 3
    assert total("NumberOfMessagesReceived", 3) == 3
    assert total("NumberOfMessagesDeleted", 2) == 2
    assert total("NumberOfEmptyReceives", 1) == 1
    size = cw.get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="SentMessageSize",
        Dimensions=[{"Name": "QueueName", "Value": "counted-queue"}],
        StartTime=start,
        EndTime=start + timedelta(minutes=10),
        Period=600,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
        Unit="Bytes",
    )["Datapoints"]
    assert [(p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"], p["Unit"]) for p in size] == [
        (3, 600, 100, 300, "Bytes")
    ]
    listed = cw.list_metrics(
        Namespace="AWS/SQS", Dimensions=[{"Name": "QueueName", "Value": "counted-queue"}]
    )
    assert {
        "NumberOfMessagesSent",
        "NumberOfMessagesReceived",
        "NumberOfMessagesDeleted",
        "NumberOfEmptyReceives",
        "SentMessageSize",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateAgeOfOldestMessage",
    } <= {m["MetricName"] for m in listed["Metrics"]}
