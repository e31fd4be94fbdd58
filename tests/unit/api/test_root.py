"""The root app's /health: 200 only while the node is ready, 503 with its state while starting or draining."""

from __future__ import annotations

import json
from typing import Any

from lambkin.api.root import RootApp


async def health(app: RootApp) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/health", "headers": []}, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_health_follows_the_node_state() -> None:
    state = "starting"
    app = RootApp([], state=lambda: state)
    assert await health(app) == (503, {"status": "starting"})
    state = "ready"
    assert await health(app) == (200, {"status": "ok"})
    state = "draining"
    assert await health(app) == (503, {"status": "draining"})


async def test_a_server_without_a_membership_is_always_ready() -> None:
    assert await health(RootApp([])) == (200, {"status": "ok"})
