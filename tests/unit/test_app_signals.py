"""The server's signals: the first SIGTERM starts the drain and nothing else, a second one stops the server at
once; SIGINT stops it as uvicorn does."""

from __future__ import annotations

import signal

import uvicorn

from lambkin.api.root import RootApp
from lambkin.app import _Server


def server() -> tuple[_Server, list[str]]:
    calls: list[str] = []
    return _Server(uvicorn.Config(RootApp([])), on_terminate=lambda: calls.append("drain")), calls


def test_the_first_sigterm_drains_and_a_second_stops_at_once() -> None:
    instance, calls = server()
    instance.handle_exit(signal.SIGTERM, None)
    assert calls == ["drain"]
    assert not instance.should_exit
    instance.handle_exit(signal.SIGTERM, None)
    assert calls == ["drain"]
    assert instance.should_exit and instance.force_exit


def test_sigint_stops_without_draining() -> None:
    instance, calls = server()
    instance.handle_exit(signal.SIGINT, None)
    assert calls == []
    assert instance.should_exit and not instance.force_exit
