"""HTTP APIs end to end: boto3 and the AWS CLI configure them through API Gateway v2's API; `requests` and
`urllib` call them (and a function URL) at the URLs lambkin returned; errors as HTTP APIs answer them."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.cli import aws
from tests.e2e.lambda_support import create_active
from tests.e2e.test_http_support import function
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc


@pytest.fixture(scope="module")
def apigw(server: LambkinServer) -> Any:
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo(server: LambkinServer, lam: Any, handlers_uri: str) -> str:
    name = function(server, lam, handlers_uri, "api-echo", "app.echo")
    return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


@pytest.fixture(scope="module")
def respond(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    uri = test_images.push("python-django", server.registry, tag="v1")
    name = function(server, lam, uri, "api-respond", "respond.handler", Timeout=10)
    return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


@pytest.fixture(scope="module")
def wrapped(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    uri = test_images.push("python-django", server.registry, tag="v1")
    name = function(server, lam, uri, "api-wrapped", "respond.wrapped")
    return str(lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


# A Lambda authorizer as a custom runtime on the python-handlers image: it allows the token "letmein" (its
# context counts the environment's invocations, so a cached answer shows) and denies any other.
AUTHORIZER_RUNTIME = """
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
calls = 0
while True:
    with urllib.request.urlopen(api + "next") as got:
        request_id, event = got.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(got.read())
    calls += 1
    allowed = event["identitySource"] == ["letmein"] and event["type"] == "REQUEST"
    answer = {"isAuthorized": allowed, "context": {"user": "alice", "calls": calls}}
    urllib.request.urlopen(api + request_id + "/response", json.dumps(answer).encode()).read()
"""


def allow(lam: Any, function_arn: str, api_id: str, source: str = "*/*") -> None:
    """The permission AWS's console adds, as the README's `aws lambda add-permission` step does (once)."""
    try:
        lam.add_permission(
            FunctionName=function_arn,
            StatementId=f"apigw-{api_id}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/{source}",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceConflictException":
            raise


@pytest.fixture(scope="module")
def shop(apigw: Any, lam: Any, echo: str, respond: str, wrapped: str) -> Iterator[dict[str, Any]]:
    """An API with routes to three functions (payload 2.0 and 1.0), CORS, a $default and a prod stage."""
    api = apigw.create_api(
        Name="shop",
        ProtocolType="HTTP",
        CorsConfiguration={
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "MaxAge": 60,
        },
        Tags={"team": "a"},
    )
    api_id = api["ApiId"]
    v2 = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo, PayloadFormatVersion="2.0"
    )
    v1 = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=wrapped, PayloadFormatVersion="1.0"
    )
    slow = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=respond,
        PayloadFormatVersion="2.0",
        TimeoutInMillis=1000,
    )
    for key, integration in (
        ("GET /items/{id}", v2),
        ("ANY /files/{proxy+}", v2),
        ("GET /v1/items/{id}", v1),
        ("POST /respond", slow),
    ):
        apigw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    apigw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"tier": "gold"})
    apigw.create_deployment(ApiId=api_id, StageName="prod")
    yield api
    apigw.delete_api(ApiId=api_id)


def test_the_control_plane_reads_back_what_was_configured(apigw: Any, shop: dict[str, Any]) -> None:
    api_id = shop["ApiId"]
    got = apigw.get_api(ApiId=api_id)
    assert got["Name"] == "shop" and got["ProtocolType"] == "HTTP" and got["Tags"] == {"team": "a"}
    assert got["CorsConfiguration"]["AllowOrigins"] == ["https://app.example"]
    assert got["ApiEndpoint"].endswith(f"/execute-api/{api_id}")
    assert api_id in [item["ApiId"] for item in apigw.get_apis()["Items"]]
    keys = {route["RouteKey"] for route in apigw.get_routes(ApiId=api_id)["Items"]}
    assert keys == {"GET /items/{id}", "ANY /files/{proxy+}", "GET /v1/items/{id}", "POST /respond"}
    stages = {stage["StageName"]: stage for stage in apigw.get_stages(ApiId=api_id)["Items"]}
    assert stages["$default"]["AutoDeploy"] is True and stages["prod"]["StageVariables"] == {"tier": "gold"}
    assert apigw.get_tags(ResourceArn=f"arn:aws:apigateway:us-east-1::/apis/{api_id}")["Tags"] == {
        "team": "a"
    }
    with pytest.raises(ClientError) as missing:
        apigw.get_api(ApiId="0123456789")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as bad:
        apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri="x", PayloadFormatVersion="2.0",
            TimeoutInMillis=40000,
        )  # fmt: skip
    assert bad.value.response["Error"]["Code"] == "BadRequestException"


def test_routes_need_the_functions_permission(lam: Any, apigw: Any, shop: dict[str, Any], echo: str) -> None:
    endpoint = shop["ApiEndpoint"]
    refused = requests.get(f"{endpoint}/items/7", timeout=120)
    assert refused.status_code == 500 and refused.json() == {"message": "Internal Server Error"}
    assert "apigw-requestid" in refused.headers
    allow(lam, echo, shop["ApiId"])
    event = requests.get(f"{endpoint}/items/7?q=1", timeout=120).json()
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["pathParameters"] == {"id": "7"} and event["rawPath"] == "/items/7"
    assert (
        event["requestContext"]["apiId"] == shop["ApiId"] and event["requestContext"]["stage"] == "$default"
    )
    greedy = requests.post(f"{endpoint}/files/a/b", data=b"x", timeout=120).json()
    assert greedy["pathParameters"] == {"proxy": "a/b"}
    missing = requests.get(f"{endpoint}/nothing", timeout=120)
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}


def test_a_named_stage_serves_its_deployment_with_its_variables(
    lam: Any, shop: dict[str, Any], echo: str
) -> None:
    allow(lam, echo, shop["ApiId"])
    with urllib.request.urlopen(f"{shop['ApiEndpoint']}/prod/items/9", timeout=120) as response:
        event = json.loads(response.read())
    assert event["requestContext"]["stage"] == "prod" and event["rawPath"] == "/items/9"
    assert event["stageVariables"] == {"tier": "gold"}


def test_payload_1_0_cors_and_integration_timeout(
    lam: Any, shop: dict[str, Any], wrapped: str, respond: str
) -> None:
    endpoint, api_id = shop["ApiEndpoint"], shop["ApiId"]
    allow(lam, wrapped, api_id)
    allow(lam, respond, api_id)
    response = requests.get(f"{endpoint}/v1/items/3", headers={"origin": "https://app.example"}, timeout=120)
    event = response.json()
    assert (
        event["version"] == "1.0" and event["resource"] == "/v1/items/{id}" and event["httpMethod"] == "GET"
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    preflight = requests.options(
        f"{endpoint}/anything",
        headers={"origin": "https://app.example", "access-control-request-method": "POST"},
        timeout=120,
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-max-age"] == "60"
    assert requests.post(f"{endpoint}/respond", json={"return": {"ok": 1}}, timeout=120).json() == {"ok": 1}
    slow = requests.post(f"{endpoint}/respond", json={"sleep": 3}, timeout=120)
    assert slow.status_code == 503 and slow.json() == {"message": "Service Unavailable"}
    failed = requests.post(f"{endpoint}/respond", json={"raise": "no"}, timeout=120)
    assert failed.status_code == 500 and failed.json() == {"message": "Internal Server Error"}


def test_cli_quick_create_and_a_function_url_by_urllib(server: LambkinServer, lam: Any, echo: str) -> None:
    created = aws(
        server, "apigatewayv2", "create-api", "--name", "quick", "--protocol-type", "HTTP", "--target", echo
    )
    api_id = created["ApiId"]
    assert [
        s["StageName"] for s in aws(server, "apigatewayv2", "get-stages", "--api-id", api_id)["Items"]
    ] == ["$default"]
    allow(lam, echo, api_id)
    with urllib.request.urlopen(f"{created['ApiEndpoint']}/any/path", timeout=120) as response:
        assert json.loads(response.read())["routeKey"] == "$default"
    aws(server, "apigatewayv2", "delete-api", "--api-id", api_id)
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(f"{created['ApiEndpoint']}/any/path", timeout=120)
    assert gone.value.code == 404
    gone.value.close()

    url = lam.create_function_url_config(FunctionName="api-echo", AuthType="NONE")["FunctionUrl"]
    assert url.startswith(f"{server.endpoint}/lambda-url/")
    lam.add_permission(
        FunctionName="api-echo",
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(
        FunctionName="api-echo", StatementId="url-invoke", Action="lambda:InvokeFunction", Principal="*"
    )
    with urllib.request.urlopen(f"{url}hello", timeout=120) as response:
        assert json.loads(response.read())["rawPath"] == "/hello"


def test_a_lambda_authorizer_guards_a_route_and_its_answer_is_cached(
    lam: Any, apigw: Any, handlers_uri: str, echo: str
) -> None:
    runtime = {"EntryPoint": ["/usr/bin/python3", "-c", AUTHORIZER_RUNTIME], "Command": ["authorizer"]}
    create_active(lam, "api-authorizer", handlers_uri, ImageConfig=runtime)
    authorizer_arn = lam.get_function(FunctionName="api-authorizer")["Configuration"]["FunctionArn"]
    api = apigw.create_api(Name="guarded", ProtocolType="HTTP")
    api_id = api["ApiId"]
    authorizer = apigw.create_authorizer(
        ApiId=api_id,
        Name="tokens",
        AuthorizerType="REQUEST",
        IdentitySource=["$request.header.Authorization"],
        AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{authorizer_arn}/invocations",
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=300,
    )
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo, PayloadFormatVersion="2.0"
    )
    apigw.create_route(
        ApiId=api_id,
        RouteKey="GET /secret",
        Target=f"integrations/{integration['IntegrationId']}",
        AuthorizationType="CUSTOM",
        AuthorizerId=authorizer["AuthorizerId"],
    )
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    allow(lam, echo, api_id)
    allow(lam, authorizer_arn, api_id, f"authorizers/{authorizer['AuthorizerId']}")
    url = f"{api['ApiEndpoint']}/secret"

    missing = requests.get(url, timeout=120)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    denied = requests.get(url, headers={"authorization": "guess"}, timeout=120)
    assert denied.status_code == 403 and denied.json() == {"message": "Forbidden"}
    for _ in range(2):  # the second answer comes from the cache: the authorizer is not asked again
        allowed = requests.get(url, headers={"authorization": "letmein"}, timeout=120)
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["requestContext"]["authorizer"]["lambda"] == {"user": "alice", "calls": 2}


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[str, Any]]:
    """An OpenID issuer served by the test on 127.0.0.1: its discovery document and key set; and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    keys = json.dumps({"keys": [{**public, "kid": "test-key", "use": "sig", "alg": "RS256"}]}).encode()

    class Issuer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            found = self.path == "/.well-known/openid-configuration"
            body = json.dumps({"issuer": base, "jwks_uri": f"{base}/keys"}).encode() if found else keys
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    served = HTTPServer(("127.0.0.1", 0), Issuer)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{served.server_address[1]}", key
    finally:
        served.shutdown()
        thread.join()
        served.server_close()


def test_a_jwt_authorizer_checks_tokens_by_the_issuers_keys(
    lam: Any, apigw: Any, echo: str, issuer: tuple[str, Any]
) -> None:
    url, key = issuer
    api = apigw.create_api(Name="jwt", ProtocolType="HTTP")
    api_id = api["ApiId"]
    authorizer = apigw.create_authorizer(
        ApiId=api_id,
        Name="tokens",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": url, "Audience": ["shop-app"]},
    )
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=echo, PayloadFormatVersion="2.0"
    )
    for key_path, scopes in (("GET /me", []), ("POST /orders", ["orders:write"])):
        apigw.create_route(
            ApiId=api_id,
            RouteKey=key_path,
            Target=f"integrations/{integration['IntegrationId']}",
            AuthorizationType="JWT",
            AuthorizerId=authorizer["AuthorizerId"],
            AuthorizationScopes=scopes,
        )
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    allow(lam, echo, api_id)
    now = int(time.time())

    def signed(**claims: Any) -> dict[str, str]:
        body = {"iss": url, "aud": "shop-app", "sub": "alice", "iat": now, "exp": now + 300, **claims}
        return {"authorization": "Bearer " + jwt.encode(body, key, "RS256", headers={"kid": "test-key"})}

    me = requests.get(f"{api['ApiEndpoint']}/me", headers=signed(scope="orders:read"), timeout=120)
    assert me.status_code == 200, me.text
    context = me.json()["requestContext"]["authorizer"]["jwt"]
    assert context["claims"]["sub"] == "alice" and context["scopes"] == ["orders:read"]
    missing = requests.get(f"{api['ApiEndpoint']}/me", timeout=120)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    wrong = requests.get(f"{api['ApiEndpoint']}/me", headers=signed(aud="other"), timeout=120)
    assert wrong.status_code == 401 and "valid audience" in wrong.headers["www-authenticate"]
    short = requests.post(f"{api['ApiEndpoint']}/orders", headers=signed(scope="orders:read"), timeout=120)
    assert short.status_code == 403 and short.json() == {"message": "Forbidden"}
    ok = requests.post(f"{api['ApiEndpoint']}/orders", headers=signed(scope="orders:write"), timeout=120)
    assert ok.status_code == 200, ok.text


def test_a_service_lambkin_does_not_serve_is_named(server: LambkinServer) -> None:
    calls = {
        "ecr": lambda client: client.describe_repositories(),  # json
        "s3": lambda client: client.list_buckets(),  # rest-xml
        "apigateway": lambda client: client.get_rest_apis(),  # signed as API Gateway v2 is
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as refused:
            call(server.client(name))
        error = refused.value.response["Error"]
        assert error["Code"] == "UnsupportedOperation", (name, error)
        assert ("API Gateway v1" if name == "apigateway" else f"'{name}'") in error["Message"]


def test_a_routes_file_of_an_earlier_version_is_migrated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    routes = {"routes": [{"method": "GET", "path": "/items/{id}", "function": "fn", "format": "1.0"}]}
    (data / "routes.json").write_text(json.dumps(routes))
    migrated = LambkinServer(data).start()
    try:
        client = migrated.client("apigatewayv2")
        (api,) = [item for item in client.get_apis()["Items"] if item["Name"] == "gateway"]
        (route,) = client.get_routes(ApiId=api["ApiId"])["Items"]
        assert route["RouteKey"] == "GET /items/{id}"
        assert not (data / "routes.json").exists() and (data / "routes.json.migrated").exists()
        missing = requests.get(f"{migrated.endpoint}/gateway/elsewhere", timeout=60)
        assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    finally:
        migrated.stop()
