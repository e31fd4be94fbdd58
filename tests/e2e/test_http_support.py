"""Helpers for the HTTP front-door tests (no tests here): functions with URLs, requests by Host or path."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.lambda_support import create_active
from tests.harness import LambkinServer

_created: set[tuple[int, str]] = set()


def function(server: LambkinServer, lam: Any, uri: str, name: str, handler: str, **extra: Any) -> str:
    """Creates (once per server) an Active function running `handler` of the image at `uri`."""
    if (server.port, name) not in _created:
        create_active(lam, name, uri, ImageConfig={"Command": [handler]}, **extra)
        _created.add((server.port, name))
    return name


def url_id(function_url: str) -> str:
    """The url-id of a function URL: `http://<host:port>/lambda-url/<url-id>/` (lambkin's default) or
    `http://<url-id>.lambda-url.<region>.localhost:<port>/`."""
    if "/lambda-url/" in function_url:
        return function_url.split("/lambda-url/", 1)[1].split("/", 1)[0]
    return function_url.split("//", 1)[1].split(".", 1)[0]


def by_host(server: LambkinServer, function_url: str) -> httpx.Client:
    """A client that reaches the URL by its host form's Host header (the server listens on 127.0.0.1)."""
    host = f"{url_id(function_url)}.lambda-url.us-east-1.localhost:{server.port}"
    return httpx.Client(base_url=server.endpoint, headers={"host": host}, timeout=120)


def by_path(server: LambkinServer, function_url: str) -> httpx.Client:
    """A client that reaches the URL at `/lambda-url/<url-id>/`."""
    return httpx.Client(base_url=f"{server.endpoint}/lambda-url/{url_id(function_url)}", timeout=120)
