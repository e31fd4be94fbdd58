"""Regions end to end (LAMBKIN_REGIONS): each region served is a namespace of its own queues, functions,
mappings and URLs, chosen by the region a request is signed for; IAM is global."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.lambda_support import allow_queue_polling, create_active, public_url
from tests.harness import LambkinServer, eventually

HOME, OTHER = "us-east-1", "eu-west-1"
ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    data = Path(tmp_path_factory.mktemp("regions")) / "data"
    instance = LambkinServer(data, env={"LAMBKIN_REGIONS": f"{HOME},{OTHER}"}).start()
    try:
        yield instance
    finally:
        instance.stop()


def client(server: LambkinServer, service: str, region: str) -> Any:
    return server.client(service, region=region, config=Config(read_timeout=120, retries={"max_attempts": 0}))


def test_the_same_queue_name_in_two_regions_is_two_queues(server: LambkinServer) -> None:
    home, other = client(server, "sqs", HOME), client(server, "sqs", OTHER)
    home_url = home.create_queue(QueueName="orders")["QueueUrl"]
    other_url = other.create_queue(QueueName="orders")["QueueUrl"]
    assert home_url != other_url and OTHER in other_url
    arn = other.get_queue_attributes(QueueUrl=other_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert arn == f"arn:aws:sqs:{OTHER}:{ACCOUNT}:orders"
    other.send_message(QueueUrl=other_url, MessageBody="for europe")
    assert "Messages" not in home.receive_message(QueueUrl=home_url, WaitTimeSeconds=0)
    got = other.receive_message(QueueUrl=other_url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in got] == ["for europe"]
    with pytest.raises(ClientError) as elsewhere:  # another region's URL names no queue here
        home.send_message(QueueUrl=other_url, MessageBody="lost")
    assert "NonExistentQueue" in elsewhere.value.response["Error"]["Code"]
    other.create_queue(QueueName="only-in-europe")
    assert "only-in-europe" not in " ".join(home.list_queues().get("QueueUrls", []))
    assert len(other.list_queues()["QueueUrls"]) == 2


def test_a_region_not_served_is_refused_as_before(server: LambkinServer) -> None:
    with pytest.raises(ClientError) as refused:
        client(server, "sqs", "ap-south-1").list_queues()
    assert "Credential should be scoped to a valid region, not 'ap-south-1'" in str(refused.value)


def test_iam_is_global(server: LambkinServer) -> None:
    client(server, "iam", OTHER).create_user(UserName="everywhere")
    assert client(server, "iam", HOME).get_user(UserName="everywhere")["User"]["UserName"] == "everywhere"


@pytest.mark.runc
def test_a_function_lives_in_its_region(server: LambkinServer, handlers_uri: str) -> None:
    home, other = client(server, "lambda", HOME), client(server, "lambda", OTHER)
    created = create_active(other, "greeter", handlers_uri, ImageConfig={"Command": ["app.echo"]})
    assert created["FunctionArn"] == f"arn:aws:lambda:{OTHER}:{ACCOUNT}:function:greeter"
    with pytest.raises(ClientError) as missing:
        home.get_function(FunctionName="greeter")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert f"arn:aws:lambda:{HOME}:{ACCOUNT}:function:greeter" in str(missing.value)
    answer = other.invoke(FunctionName="greeter", Payload=b'{"hello": "europe"}')
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"hello": "europe"}
    other.invoke(FunctionName="greeter", InvocationType="Event", Payload=b'{"later": true}')

    def groups(region: str) -> list[str]:
        found = client(server, "logs", region).describe_log_groups(logGroupNamePrefix="/aws/lambda/greeter")
        return [g["logGroupName"] for g in found["logGroups"]]

    def two_starts() -> bool:  # the synchronous invoke's START and the asynchronous one's
        events = client(server, "logs", OTHER).filter_log_events(logGroupName="/aws/lambda/greeter")["events"]
        return sum(e["message"].startswith("START") for e in events) == 2

    eventually(two_starts, "the asynchronous invoke run in its region")
    assert groups(OTHER) == ["/aws/lambda/greeter"] and groups(HOME) == []


@pytest.mark.runc
def test_a_mapping_delivers_within_its_region(server: LambkinServer, handlers_uri: str) -> None:
    lam, sqs = client(server, "lambda", OTHER), client(server, "sqs", OTHER)
    allow_queue_polling(server.endpoint)
    create_active(lam, "consumer", handlers_uri, ImageConfig={"Command": ["batch.strict"]}, Timeout=5)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    arn = f"arn:aws:sqs:{OTHER}:{ACCOUNT}:work"
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="consumer", BatchSize=10)
    assert mapping["EventSourceMappingArn"].startswith(f"arn:aws:lambda:{OTHER}:")
    assert client(server, "lambda", HOME).list_event_source_mappings()["EventSourceMappings"] == []
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])

    def consumed() -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return got[names[0]] == got[names[1]] == "0"

    eventually(consumed, "the batch consumed and deleted")


@pytest.mark.runc
def test_a_function_url_and_an_http_api_of_the_other_region_answer(
    server: LambkinServer, handlers_uri: str
) -> None:
    lam = client(server, "lambda", OTHER)
    arn = create_active(lam, "web", handlers_uri, ImageConfig={"Command": ["app.echo"]})["FunctionArn"]
    url = public_url(lam, "web")
    with urllib.request.urlopen(url, data=b'{"via": "url"}', timeout=120) as response:
        assert response.status == 200
    apigw = client(server, "apigatewayv2", OTHER)
    api = apigw.create_api(Name="web", ProtocolType="HTTP", Target=arn)
    lam.add_permission(
        FunctionName="web",
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{OTHER}:{ACCOUNT}:{api['ApiId']}/*/*",
    )
    with urllib.request.urlopen(f"{api['ApiEndpoint']}/hello", timeout=120) as response:
        assert json.loads(response.read())["routeKey"] == "$default"
    assert client(server, "apigatewayv2", HOME).get_apis()["Items"] == []


def test_the_regions_data_survives_a_restart(server: LambkinServer) -> None:
    other = client(server, "sqs", OTHER)
    url = other.create_queue(QueueName="kept")["QueueUrl"]
    other.send_message(QueueUrl=url, MessageBody="still here")
    server.restart()
    assert url in client(server, "sqs", OTHER).list_queues()["QueueUrls"]
    assert url not in client(server, "sqs", HOME).list_queues().get("QueueUrls", [])
    got = client(server, "sqs", OTHER).receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in got] == ["still here"]


@pytest.mark.skipif(os.environ.get("LAMBKIN_TEST_DATABASE") != "postgresql", reason="PostgreSQL pass only")
def test_on_postgresql_each_region_has_its_own_schema(server: LambkinServer) -> None:
    import psycopg

    client(server, "sqs", HOME).create_queue(QueueName="home-only")
    client(server, "sqs", OTHER).create_queue(QueueName="europe-only")
    with psycopg.connect(server.extra_env["LAMBKIN_DATABASE_URL"]) as conn:
        home = {row[0] for row in conn.execute("SELECT name FROM public.queues")}
        other = {row[0] for row in conn.execute("SELECT name FROM lambkin_eu_west_1.queues")}
    assert "home-only" in home and "europe-only" not in home
    assert "europe-only" in other and "home-only" not in other


def test_buses_and_schedules_belong_to_their_region(server: LambkinServer) -> None:
    arn = client(server, "events", OTHER).create_event_bus(Name="orders")["EventBusArn"]
    assert arn == f"arn:aws:events:{OTHER}:{ACCOUNT}:event-bus/orders"
    assert "orders" not in [
        b["Name"] for b in client(server, "events", HOME).list_event_buses()["EventBuses"]
    ]
    group = client(server, "scheduler", OTHER).create_schedule_group(Name="nightly")["ScheduleGroupArn"]
    assert group.startswith(f"arn:aws:scheduler:{OTHER}:")
    home_groups = client(server, "scheduler", HOME).list_schedule_groups()["ScheduleGroups"]
    assert "nightly" not in [g["Name"] for g in home_groups]
