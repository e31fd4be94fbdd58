"""CORS for function URLs and HTTP APIs, route matching, and the routes file of earlier versions."""

from __future__ import annotations

import pytest

from lambkin.events.http import cors
from lambkin.events.http.request import HttpResponse
from lambkin.events.http.routes import FileRoute as Route
from lambkin.events.http.routes import match, parse_routes

CORS = {
    "AllowOrigins": ["https://a.example"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["x-h"],
    "ExposeHeaders": ["x-e"],
    "AllowCredentials": True,
    "MaxAge": 10,
}


def test_preflight_for_an_allowed_and_a_foreign_origin() -> None:
    assert cors.is_preflight("OPTIONS", {"origin": "o", "access-control-request-method": "GET"})
    assert not cors.is_preflight("OPTIONS", {"origin": "o"})
    allowed = cors.preflight(CORS, {"origin": "https://A.example", "access-control-request-method": "GET"})
    assert dict(allowed.headers) == {
        "vary": "Origin",
        "access-control-allow-origin": "https://A.example",
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "x-h",
        "access-control-allow-credentials": "true",
        "access-control-max-age": "10",
    }
    foreign = cors.preflight(CORS, {"origin": "https://b.example"})
    assert dict(foreign.headers) == {"vary": "Origin"}


def test_wildcard_origin_and_response_headers_replace_the_functions() -> None:
    response = HttpResponse(200, (("access-control-allow-origin", "*"), ("x", "1")))
    out = cors.with_cors(response, {"AllowOrigins": ["*"], "ExposeHeaders": ["x"]}, "https://z")
    assert dict(out.headers) == {
        "x": "1",
        "access-control-allow-origin": "*",
        "access-control-expose-headers": "x",
        "vary": "Origin",
    }
    credentials = cors.with_cors(response, {"AllowOrigins": ["*"], "AllowCredentials": True}, "https://z")
    assert dict(credentials.headers)["access-control-allow-origin"] == "https://z"


ROUTES = [
    Route("GET", "/items/{id}", "by-id"),
    Route("GET", "/items/special", "special"),
    Route("ANY", "/items/{id}", "any-id"),
    Route("ANY", "/files/{proxy+}", "files"),
    Route("POST", "/a/{x}/b/{y}", "two"),
    Route("ANY", "$default", "fallback"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/items/7", "by-id", {"id": "7"}),
        ("PUT", "/items/7", "any-id", {"id": "7"}),
        ("GET", "/items/special", "special", {}),
        ("GET", "/files/a/b%20c", "files", {"proxy": "a/b c"}),
        ("POST", "/a/1/b/2", "two", {"x": "1", "y": "2"}),
        ("GET", "/files", "fallback", {}),
        ("GET", "/", "fallback", {}),
        ("GET", "/items/7/more", "fallback", {}),
    ],
)
def test_most_specific_route_wins(method: str, path: str, function: str, params: dict[str, str]) -> None:
    found = match(ROUTES, method, path)
    assert found is not None and found[0].function == function and found[1] == params


def test_no_route_without_default() -> None:
    assert match(ROUTES[:-1], "GET", "/nothing") is None


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"routes": {}},
        {"routes": [{"path": "/x", "function": "f", "format": "3.0"}]},
        {"routes": [{"path": "x", "function": "f"}]},
    ],
)
def test_invalid_routes_files(data: object) -> None:
    with pytest.raises(ValueError):
        parse_routes(data)
