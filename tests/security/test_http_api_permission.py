"""An HTTP API invokes a function only where the function's policy lets apigateway.amazonaws.com do so for
that API: a permission scoped to one API (by `SourceArn`) opens the function to no other API, and none at all
leaves every route answering 500, as API Gateway does."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.config import Config

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc


def quick_api(apigw: Any, name: str, function_arn: str) -> dict[str, Any]:
    api: dict[str, Any] = apigw.create_api(Name=name, ProtocolType="HTTP", Target=function_arn)
    return api


def test_a_permission_for_one_api_opens_the_function_to_that_api_only(
    server: LambkinServer, test_images: BuiltImages
) -> None:
    lam = server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))
    uri = test_images.push("python-handlers", server.registry, tag="v1")
    arn = create_active(lam, "guarded", uri, ImageConfig={"Command": ["app.echo"]})["FunctionArn"]
    apigw = server.client("apigatewayv2")
    mine, theirs = quick_api(apigw, "mine", arn), quick_api(apigw, "theirs", arn)
    for api in (mine, theirs):
        refused = requests.get(f"{api['ApiEndpoint']}/x", timeout=120)
        assert refused.status_code == 500 and refused.json() == {"message": "Internal Server Error"}
    lam.add_permission(
        FunctionName="guarded",
        StatementId="mine-only",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{mine['ApiId']}/*/*",
    )
    assert requests.get(f"{mine['ApiEndpoint']}/x", timeout=120).json()["rawPath"] == "/x"
    assert requests.get(f"{theirs['ApiEndpoint']}/x", timeout=120).status_code == 500
