"""Builds the async invoke path: event store, destinations, dispatcher."""

from __future__ import annotations

from lambkin.invoke.async_destinations import Destinations, Refused
from lambkin.invoke.async_dispatcher import Configs, Dispatcher, DispatchSettings, Runner
from lambkin.invoke.async_store import open_event_store
from lambkin.invoke.targets import Resolve
from lambkin.queues.service import QueueService
from lambkin.store import Store


def build_dispatcher(
    events: Store,
    runner: Runner,
    resolve: Resolve,
    configs: Configs,
    queues: QueueService | None,
    settings: DispatchSettings,
    refused: Refused | None = None,
) -> Dispatcher:
    """The dispatcher on the store `events` (on SQLite a file of its own: accepts never queue behind
    control-plane writes), with every stored event queued again; with `refused`, records go only where the
    function's role may."""
    store = open_event_store(events)
    dispatcher = Dispatcher(store, runner, resolve, configs, Destinations(queues, refused), settings)
    dispatcher.restore()
    return dispatcher
