"""Builds the async invoke path (event store, destinations, dispatcher) from the server's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lambkin.invoke.async_destinations import Destinations
from lambkin.invoke.async_dispatcher import Configs, Dispatcher, DispatchSettings, Runner
from lambkin.invoke.async_store import open_event_store
from lambkin.invoke.targets import Resolve
from lambkin.queues.service import QueueService


def dispatch_settings(environ: Mapping[str, str] | None = None) -> DispatchSettings:
    """LAMBKIN_ASYNC_RETRY_SCALE (1.0: Lambda's back-offs and ages), LAMBKIN_ASYNC_CONCURRENCY (16 per
    function; 0 holds every event back, stored but not run, as the acceptance benchmark needs)."""
    env = os.environ if environ is None else environ
    return DispatchSettings(
        scale=float(env.get("LAMBKIN_ASYNC_RETRY_SCALE") or 1.0),
        per_function=int(env.get("LAMBKIN_ASYNC_CONCURRENCY") or 16),
    )


def build_dispatcher(
    data_dir: Path,
    runner: Runner,
    resolve: Resolve,
    configs: Configs,
    queues: QueueService | None,
    environ: Mapping[str, str] | None = None,
) -> Dispatcher:
    """The dispatcher on <data>/events.db (its own file: accepts never queue behind control-plane writes),
    with every stored event queued again."""
    store = open_event_store(data_dir / "events.db")
    dispatcher = Dispatcher(store, runner, resolve, configs, Destinations(queues), dispatch_settings(environ))
    dispatcher.restore()
    return dispatcher
