"""Function URLs end to end: the FunctionUrlConfig API with boto3, and HTTP requests with httpx to real images."""

from __future__ import annotations

import base64
from typing import Any

import botocore.exceptions
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.lambda_support import public_url
from tests.e2e.test_http_support import by_host, by_path, function, url_id
from tests.harness import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc


@pytest.fixture(scope="module")
def django_uri(server: LambkinServer, test_images: BuiltImages) -> str:
    return test_images.push("python-django", server.registry, tag="v1")


@pytest.fixture(scope="module")
def echo_url(server: LambkinServer, lam: Any, handlers_uri: str) -> str:
    name = function(server, lam, handlers_uri, "url-echo", "app.echo")
    return public_url(lam, name)


@pytest.fixture(scope="module")
def respond_url(server: LambkinServer, lam: Any, django_uri: str) -> str:
    name = function(server, lam, django_uri, "url-respond", "respond.handler", Timeout=2)
    return public_url(lam, name)


def test_url_config_operations(server: LambkinServer, lam: Any, handlers_uri: str) -> None:
    name = function(server, lam, handlers_uri, "url-ops", "app.echo")
    created = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", Cors={"AllowOrigins": ["https://a.example"], "MaxAge": 60}
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    function_url = created["FunctionUrl"]
    assert function_url == f"{server.endpoint}/lambda-url/{url_id(function_url)}/"
    assert len(url_id(function_url)) == 32 and url_id(function_url).isalnum()
    assert url_id(function_url) == url_id(function_url).lower()
    assert created["FunctionArn"].endswith(f":function:{name}")
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == {"AllowOrigins": ["https://a.example"], "MaxAge": 60}
    with pytest.raises(botocore.exceptions.ClientError) as conflict:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"

    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == function_url and "LastModifiedTime" in got
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["Cors"]["MaxAge"] == 60

    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    aliased = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    assert aliased["FunctionArn"].endswith(f":function:{name}:live")
    assert aliased["FunctionUrl"] != function_url
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[-1] for c in listed] == [name, "live"]

    for qualifier, code in (("1", "ValidationException"), ("nope", "ResourceNotFoundException")):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            lam.create_function_url_config(FunctionName=name, Qualifier=qualifier, AuthType="NONE")
        assert refused.value.response["Error"]["Code"] == code
    with pytest.raises(botocore.exceptions.ClientError) as bad_auth:
        lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="OPEN")
    assert bad_auth.value.response["Error"]["Code"] in ("ValidationException", "ResourceConflictException")

    lam.delete_function_url_config(FunctionName=name, Qualifier="live")
    assert len(lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]) == 1
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        lam.get_function_url_config(FunctionName=name, Qualifier="live")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_url_configs_survive_a_restart(server: LambkinServer, lam: Any, echo_url: str) -> None:
    server.restart()
    fresh = server.client("lambda")
    assert fresh.get_function_url_config(FunctionName="url-echo")["FunctionUrl"] == echo_url
    with by_host(server, echo_url) as client:
        assert client.get("/after-restart").json()["rawPath"] == "/after-restart"


def test_payload_v2_event_field_by_field(server: LambkinServer, echo_url: str) -> None:
    with by_host(server, echo_url) as client:
        response = client.post(
            "/some/path%20x?b=2&a=1&a=3&empty=",
            content=b'{"k": "v"}',
            headers=[
                ("content-type", "application/json"),
                ("user-agent", "lambkin-test/1"),
                ("x-multi", "one"),
                ("x-multi", "two"),
                ("cookie", "c1=v1; c2=v2"),
                ("X-Mixed-Case", "Value"),
            ],
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    event = response.json()
    host = f"{url_id(echo_url)}.lambda-url.{REGION}.localhost:{server.port}"  # by_host's
    domain = host.split(":", 1)[0]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path%20x"
    assert event["rawQueryString"] == "b=2&a=1&a=3&empty="
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    headers = event["headers"]
    assert headers["x-multi"] == "one,two"
    assert headers["x-mixed-case"] == "Value"
    assert headers["host"] == host
    assert "cookie" not in headers
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == str(server.port)
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert all(name == name.lower() for name in headers)
    assert event["queryStringParameters"] == {"b": "2", "a": "1,3", "empty": ""}
    context = event["requestContext"]
    assert context["accountId"] == "000000000000"
    assert context["apiId"] == url_id(echo_url)
    assert context["domainName"] == domain
    assert context["domainPrefix"] == url_id(echo_url)
    assert context["http"] == {
        "method": "POST",
        "path": "/some/path%20x",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "lambkin-test/1",
    }
    assert len(context["requestId"]) == 36
    assert response.headers["x-amzn-requestid"] == context["requestId"]
    assert context["routeKey"] == "$default" and context["stage"] == "$default"
    assert context["time"].endswith(" +0000") and len(context["time"]) == 26
    assert isinstance(context["timeEpoch"], int) and context["timeEpoch"] > 1_600_000_000_000
    assert "authorizer" not in context
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    assert event["pathParameters"] is None and event["stageVariables"] is None


def test_binary_body_is_base64_and_path_prefix_form(server: LambkinServer, echo_url: str) -> None:
    blob = bytes(range(256))
    with by_path(server, echo_url) as client:
        event = client.put("/bin", content=blob, headers={"content-type": "application/octet-stream"}).json()
        bare = client.get("").json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob
    assert event["rawPath"] == "/bin" and event["requestContext"]["http"]["method"] == "PUT"
    assert "queryStringParameters" not in event and "cookies" not in event
    assert bare["rawPath"] == "/" and "body" not in bare


def ask(server: LambkinServer, url: str, asked: dict[str, Any]) -> httpx.Response:
    with by_host(server, url) as client:
        return client.post("/", json=asked)


def test_response_mapping_rules(server: LambkinServer, respond_url: str) -> None:
    full = ask(
        server,
        respond_url,
        {
            "return": {
                "statusCode": 201,
                "headers": {"x-custom": "yes", "content-type": "text/html"},
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
                "body": "<p>made</p>",
            }
        },
    )
    assert full.status_code == 201
    assert full.headers["x-custom"] == "yes" and full.headers["content-type"] == "text/html"
    assert full.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert full.text == "<p>made</p>"

    binary = ask(
        server,
        respond_url,
        {
            "return": {
                "statusCode": 200,
                "body": base64.b64encode(b"\x00\xff").decode(),
                "isBase64Encoded": True,
            }
        },
    )
    assert binary.content == b"\x00\xff" and binary.headers["content-type"] == "application/json"

    bare = ask(server, respond_url, {"return": {"message": "hi", "n": [1, 2]}})
    assert bare.status_code == 200 and bare.headers["content-type"] == "application/json"
    assert bare.json() == {"message": "hi", "n": [1, 2]}
    text = ask(server, respond_url, {"return": "plain words"})
    assert text.status_code == 200 and text.json() == "plain words"
    number = ask(server, respond_url, {"return": 42})
    assert number.status_code == 200 and number.json() == 42

    malformed = ask(server, respond_url, {"return": {"statusCode": "abc"}})
    assert malformed.status_code == 502 and malformed.text == "Internal Server Error"


def test_function_error_timeout_and_limits(server: LambkinServer, respond_url: str) -> None:
    failed = ask(server, respond_url, {"raise": "boom"})
    assert failed.status_code == 502 and failed.text == "Internal Server Error"
    timed_out = ask(server, respond_url, {"sleep": 5})
    assert timed_out.status_code == 504
    with by_host(server, respond_url) as client:
        too_big = client.post("/", content=b"x" * (6 * 1024 * 1024 + 1))
        assert too_big.status_code == 413
        assert "6291456" in too_big.json()["Message"]
        big_response = client.post("/", json={"size": 7 * 1024 * 1024})
        assert big_response.status_code == 413
        fits = client.post("/", json={"size": 5 * 1024 * 1024})
        assert fits.status_code == 200 and len(fits.content) == 5 * 1024 * 1024


def test_unknown_url_id_is_forbidden(server: LambkinServer) -> None:
    response = httpx.get(f"{server.endpoint}/lambda-url/{'a' * 32}/", timeout=30)
    assert response.status_code == 403


def test_cors_preflight_and_response_headers(server: LambkinServer, lam: Any, handlers_uri: str) -> None:
    name = function(server, lam, handlers_uri, "url-cors", "app.echo")
    url = lam.create_function_url_config(
        FunctionName=name,
        AuthType="AWS_IAM",
        Cors={
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["x-token"],
            "ExposeHeaders": ["x-amzn-requestid"],
            "AllowCredentials": True,
            "MaxAge": 300,
        },
    )["FunctionUrl"]
    with by_host(server, url) as client:
        preflight = client.options(
            "/x",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-token",
            },
        )
        other = client.options(
            "/x", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "GET,POST"
    assert preflight.headers["access-control-allow-headers"] == "x-token"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-max-age"] == "300"
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers

    signed = signed_request("GET", url + "cors?x=1", headers={"origin": "https://app.example"})
    with httpx.Client(base_url=server.endpoint, timeout=120) as client:
        answer = client.send(to_local(client, server, signed))
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["access-control-expose-headers"] == "x-amzn-requestid"


def signed_request(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "lambda", REGION).add_auth(request)
    return request


def to_local(client: httpx.Client, server: LambkinServer, signed: AWSRequest) -> httpx.Request:
    """The signed request sent to the server's own address, its Host header (signed) kept."""
    host, path = signed.url.split("/", 3)[2:]
    headers = {"host": host, **dict(signed.headers)}
    return client.build_request(
        signed.method, f"{server.endpoint}/{path}", content=signed.body or b"", headers=headers
    )


def test_aws_iam_needs_a_valid_signature(server: LambkinServer, lam: Any, handlers_uri: str) -> None:
    name = function(server, lam, handlers_uri, "url-iam", "app.echo")
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    with by_host(server, url) as client:
        unsigned = client.get("/private")
    assert unsigned.status_code == 403 and unsigned.json() == {"Message": "Forbidden"}

    with httpx.Client(timeout=120) as client:
        good = client.send(to_local(client, server, signed_request("POST", url + "private?q=1", b'{"a":1}')))
        assert good.status_code == 200, good.text
        event = good.json()
        iam = event["requestContext"]["authorizer"]["iam"]
        assert iam["accessKey"] == ACCESS_KEY_ID and iam["accountId"] == "000000000000"
        assert event["body"] == '{"a":1}'

        tampered = to_local(client, server, signed_request("POST", url + "private", b'{"a":1}'))
        tampered = client.build_request("POST", tampered.url, content=b'{"a":2}', headers=tampered.headers)
        assert client.send(tampered).status_code == 403

        wrong_service = AWSRequest(method="GET", url=url + "private")
        SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "sqs", REGION).add_auth(wrong_service)
        assert client.send(to_local(client, server, wrong_service)).status_code == 403

        other_key = AWSRequest(method="GET", url=url + "private")
        SigV4Auth(Credentials("AKIAOTHER", "nope"), "lambda", REGION).add_auth(other_key)
        assert client.send(to_local(client, server, other_key)).status_code == 403

        path_form = f"{server.endpoint}/lambda-url/{url_id(url)}/private"
        signed_path = signed_request("GET", path_form)
        assert client.send(to_local(client, server, signed_path)).status_code == 200


def test_alias_url_invokes_the_alias(server: LambkinServer, lam: Any, handlers_uri: str) -> None:
    name = function(server, lam, handlers_uri, "url-alias", "app.echo")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion=version)
    url = public_url(lam, name, "prod")
    with by_host(server, url) as client:
        first = client.get("/")
        assert first.status_code == 200, (first.status_code, first.text, server.log()[-2000:])
        assert first.json()["requestContext"]["apiId"] == url_id(url)
    lam.delete_alias(FunctionName=name, Name="prod")
    with pytest.raises(botocore.exceptions.ClientError):
        lam.get_function_url_config(FunctionName=name, Qualifier="prod")
    with by_host(server, url) as client:
        after = client.get("/")
        assert after.status_code in (403, 502), (after.status_code, after.text)


def test_a_none_url_serves_only_once_the_functions_policy_makes_it_public(
    server: LambkinServer, lam: Any, handlers_uri: str
) -> None:
    name = function(server, lam, handlers_uri, "url-private", "app.echo")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    with by_host(server, url) as client:
        assert client.get("/").status_code == 403
        lam.add_permission(
            FunctionName=name,
            StatementId="url",
            Action="lambda:InvokeFunctionUrl",
            Principal="*",
            FunctionUrlAuthType="NONE",
        )
        only_url = client.get("/")  # new URLs need lambda:InvokeFunction too
        assert only_url.status_code == 403 and only_url.json() == {"Message": "Forbidden"}
        lam.add_permission(
            FunctionName=name,
            StatementId="invoke",
            Action="lambda:InvokeFunction",
            Principal="*",
            InvokedViaFunctionUrl=True,
        )
        assert client.get("/").status_code == 200
        lam.remove_permission(FunctionName=name, StatementId="url")
        assert client.get("/").status_code == 403
