"""Web apps through the front doors: Django and FastAPI (each behind Mangum) via function URLs and ALB routes."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.lambda_support import public_url
from tests.e2e.test_http_support import by_host, function
from tests.harness import LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

DJANGO_BYTES = bytes(range(256)) * 64
FASTAPI_BYTES = bytes(range(256)) * 16


@pytest.fixture(scope="module")
def django(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    handlers_uri = test_images.push("python-django", server.registry, tag="v1")
    return function(server, lam, handlers_uri, "django", "app.handler", MemorySize=256, Timeout=30)


@pytest.fixture(scope="module")
def fastapi(server: LambkinServer, lam: Any, test_images: BuiltImages) -> str:
    handlers_uri = test_images.push("python-fastapi", server.registry, tag="v1")
    return function(server, lam, handlers_uri, "fastapi", "app.handler", MemorySize=256, Timeout=30)


def routes(server: LambkinServer, *args: str) -> None:
    command = [sys.executable, "-m", "lambkin", "routes", *args, "--data-dir", str(server.data_dir)]
    command += ["--endpoint-url", server.endpoint]
    subprocess.run(command, check=True, capture_output=True, env=server.environment())


def gateway(server: LambkinServer) -> httpx.Client:
    """The HTTP gateway by its host form, so apps see their paths from the root."""
    return httpx.Client(base_url=server.endpoint, headers={"host": "gateway.localhost"}, timeout=120)


@pytest.fixture(scope="module")
def django_url(lam: Any, django: str) -> str:
    return public_url(lam, django)


@pytest.fixture()
def django_alb(server: LambkinServer, django: str) -> Iterator[None]:
    routes(server, "add", "ANY", "$default", django, "--format", "alb")
    yield
    routes(server, "remove", "ANY", "$default")


def exercise_django(client: httpx.Client, repeated: list[str]) -> None:
    """`repeated`: what Django sees of ?x=1&x=2 (a single-value ALB passes the last value only)."""
    home = client.get("/")
    assert home.status_code == 200 and home.text == "hello from django"
    assert home.headers["content-type"].startswith("text/plain")

    slash = client.get("/form")
    assert slash.status_code == 301 and slash.headers["location"] == "/form/"

    page = client.get("/form/")
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None and "csrftoken" in client.cookies
    assert client.post("/form/", data={"name": "Ada", "age": "36"}).status_code == 403
    invalid = client.post("/form/", data={"name": "Ada", "age": "-1", "csrfmiddlewaretoken": token.group(1)})
    assert invalid.status_code == 400 and "age" in invalid.text
    sent = client.post("/form/", data={"name": "Ada L", "age": "36", "csrfmiddlewaretoken": token.group(1)})
    assert sent.status_code == 302 and sent.headers["location"] == "/thanks/?name=Ada+L"
    assert client.get(sent.headers["location"]).text == "thanks, Ada L"

    cookies = client.get("/cookies/set/?flavour=oat&size=large")
    assert cookies.status_code == 302
    assert len(cookies.headers.get_list("set-cookie")) == 2
    jar = client.get("/cookies/").json()
    assert jar["flavour"] == "oat" and jar["size"] == "large"
    assert client.get("/session/").json() == {"visits": 1}
    assert client.get("/session/").json() == {"visits": 2}

    echoed = client.post("/api/echo/?x=1&x=2&y=%C3%A9", json={"hello": ["w", 1]}, headers={"x-trace": "t1"})
    assert echoed.status_code == 200 and echoed.headers["content-type"] == "application/json"
    data = echoed.json()
    assert data["method"] == "POST" and data["path"] == "/api/echo/"
    assert data["query"] == {"x": repeated, "y": ["é"]}
    assert data["json"] == {"hello": ["w", 1]} and data["headers"]["x-trace"] == "t1"

    download = client.get("/download/")
    assert download.status_code == 200 and download.content == DJANGO_BYTES
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == 'attachment; filename="bytes.bin"'
    upload = client.post(
        "/upload/", content=DJANGO_BYTES, headers={"content-type": "application/octet-stream"}
    )
    assert upload.json() == {"size": len(DJANGO_BYTES), "sha256": hashlib.sha256(DJANGO_BYTES).hexdigest()}
    assert client.get("/status/418/").status_code == 418
    assert client.get("/no/such/page/").status_code == 404


def test_django_through_a_function_url(server: LambkinServer, django_url: str) -> None:
    with by_host(server, django_url) as client:
        exercise_django(client, ["1", "2"])


def test_django_through_an_alb_route(server: LambkinServer, django_alb: None) -> None:
    with gateway(server) as client:
        exercise_django(client, ["2"])


def exercise_fastapi(client: httpx.Client) -> None:
    assert client.get("/").json() == {"hello": "fastapi"}
    assert client.get("/items/7?q=x%20y").json() == {"item_id": 7, "q": "x y"}
    assert client.get("/items/seven").status_code == 422
    created = client.post("/items", json={"name": "pen", "price": 1.5})
    assert created.status_code == 201 and created.json() == {"created": {"name": "pen", "price": 1.5}}
    assert client.post("/items", json={"name": "pen"}).status_code == 422
    cookies = client.get("/cookies/set?a=1&b=2")
    assert cookies.status_code == 302 and len(cookies.headers.get_list("set-cookie")) == 2
    assert client.get("/cookies").json() == {"a": "1", "b": "2"}
    binary = client.get("/bytes")
    assert binary.content == FASTAPI_BYTES and binary.headers["content-type"] == "application/octet-stream"
    upload = client.post(
        "/upload", content=FASTAPI_BYTES, headers={"content-type": "application/octet-stream"}
    )
    assert upload.json()["sha256"] == hashlib.sha256(FASTAPI_BYTES).hexdigest()


def test_fastapi_through_a_function_url(server: LambkinServer, lam: Any, fastapi: str) -> None:
    url = public_url(lam, fastapi)
    with by_host(server, url) as client:
        exercise_fastapi(client)


@pytest.mark.parametrize("multi_value", [False, True])
def test_fastapi_through_alb_routes(server: LambkinServer, fastapi: str, multi_value: bool) -> None:
    extra = ["--multi-value-headers"] if multi_value else []
    routes(server, "add", "ANY", "$default", fastapi, "--format", "alb", *extra)
    try:
        with gateway(server) as client:
            exercise_fastapi(client)
    finally:
        routes(server, "remove", "ANY", "$default")


def test_alb_body_limit_is_1_mb(server: LambkinServer, django_alb: None) -> None:
    with gateway(server) as client:
        small = client.post("/upload/", content=b"a" * 1000, headers={"content-type": "text/plain"})
        assert small.status_code == 200
        large = client.post(
            "/upload/", content=b"a" * (1024 * 1024 + 1), headers={"content-type": "text/plain"}
        )
        assert large.status_code == 413 and "413 Request Entity Too Large" in large.text
