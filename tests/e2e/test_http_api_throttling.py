"""HTTP APIs' own throttling end to end: a stage's DefaultRouteSettings and RouteSettings, set with boto3,
read back with GetStage, and honoured by the data plane (429 `{"message":"Too Many Requests"}`)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.e2e.test_http_apis import allow
from tests.e2e.test_http_support import function
from tests.harness import LambkinServer

pytestmark = pytest.mark.runc

SLOW = 0.001  # tokens a second: none come back while the test runs
TOO_MANY = {"message": "Too Many Requests"}


@pytest.fixture(scope="module")
def apigw(server: LambkinServer) -> Any:
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo(server: LambkinServer, lam: Any, handlers_uri: str) -> str:
    name = function(server, lam, handlers_uri, "throttled-echo", "app.echo")
    return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


def calls(url: str, count: int) -> list[requests.Response]:
    return [requests.get(url, timeout=120) for _ in range(count)]


def test_a_stage_default_then_a_route_setting_throttle_the_routes(apigw: Any, lam: Any, echo: str) -> None:
    api = apigw.create_api(Name="throttled", ProtocolType="HTTP", Target=echo, RouteKey="GET /pets")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    allow(lam, echo, api_id)
    assert [r.status_code for r in calls(f"{endpoint}/pets", 3)] == [200, 200, 200]  # no throttle of its own

    default = {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": SLOW}
    updated = apigw.update_stage(ApiId=api_id, StageName="$default", DefaultRouteSettings=default)
    assert updated["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False, **default}
    stage = apigw.get_stage(ApiId=api_id, StageName="$default")
    assert stage["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False, **default}
    passed, passed_too, refused = calls(f"{endpoint}/pets", 3)
    assert passed.status_code == 200 and passed.json()["routeKey"] == "GET /pets"
    assert passed_too.status_code == 200
    assert refused.status_code == 429 and refused.json() == TOO_MANY
    assert "apigw-requestid" in refused.headers

    # a route's own settings replace the stage's default for it; the other route keeps its empty bucket
    integration = apigw.get_integrations(ApiId=api_id)["Items"][0]["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /cats", Target=f"integrations/{integration}")
    own = {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": SLOW}
    apigw.update_stage(ApiId=api_id, StageName="$default", RouteSettings={"GET /cats": own})
    stage = apigw.get_stage(ApiId=api_id, StageName="$default")
    assert stage["RouteSettings"] == {"GET /cats": {"DetailedMetricsEnabled": False, **own}}
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 2
    assert [r.status_code for r in calls(f"{endpoint}/cats", 2)] == [200, 429]
    assert calls(f"{endpoint}/pets", 1)[0].status_code == 429

    apigw.delete_route_settings(ApiId=api_id, StageName="$default", RouteKey="GET /cats")
    assert apigw.get_stage(ApiId=api_id, StageName="$default")["RouteSettings"] == {}
    apigw.delete_api(ApiId=api_id)


def test_route_settings_are_checked(apigw: Any, echo: str) -> None:
    api_id = apigw.create_api(Name="checked", ProtocolType="HTTP", Target=echo, RouteKey="GET /a")["ApiId"]
    created = apigw.create_stage(
        ApiId=api_id,
        StageName="prod",
        RouteSettings={"GET /a": {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 1.5}},
    )
    assert created["RouteSettings"]["GET /a"]["ThrottlingRateLimit"] == 1.5
    with pytest.raises(ClientError) as missing:
        apigw.update_stage(
            ApiId=api_id, StageName="prod", RouteSettings={"GET /nowhere": {"ThrottlingBurstLimit": 1}}
        )
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    assert "Unable to find Route by key GET /nowhere" in missing.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as negative:
        apigw.update_stage(ApiId=api_id, StageName="prod", DefaultRouteSettings={"ThrottlingRateLimit": -1.0})
    assert negative.value.response["Error"]["Code"] == "BadRequestException"
    apigw.delete_api(ApiId=api_id)
