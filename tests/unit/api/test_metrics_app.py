"""/metrics answers gzip to a scraper that accepts it (Prometheus does), the text as it is to one that does
not; either way the text is the same."""

from __future__ import annotations

import gzip
from typing import Any

from lambkin.api.metrics_api import MetricsApp

TOKEN = "t"
TEXT = b'lambkin_http_requests_total{surface="lambda",status="200"} 1.0\n' * 1000


async def scrape() -> bytes:
    return TEXT


async def get(accept_encoding: str | None) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {TOKEN}".encode())]
    if accept_encoding is not None:
        headers.append((b"accept-encoding", accept_encoding.encode()))
    await MetricsApp(TOKEN, scrape)(
        {"type": "http", "method": "GET", "path": "/metrics", "headers": headers}, receive, send
    )
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], dict(sent[0]["headers"]), body


async def test_a_scraper_accepting_gzip_gets_it() -> None:
    status, headers, body = await get("gzip")  # what Prometheus sends
    assert status == 200
    assert headers[b"content-encoding"] == b"gzip"
    assert int(headers[b"content-length"]) == len(body) < len(TEXT) / 10
    assert gzip.decompress(body) == TEXT


async def test_others_get_the_text_as_it_is() -> None:
    for accepted in (None, "identity", "br"):
        status, headers, body = await get(accepted)
        assert status == 200
        assert b"content-encoding" not in headers, accepted
        assert body == TEXT
