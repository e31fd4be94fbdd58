"""Which node dispatches each function's async events: the takeover loop and the announcements between nodes.

A function's events are dispatched by the holder of its lease `async:FUNCTION` (cluster/owners.py). Any node
accepts an event: it is stored, and in the same commit announced on the bus (topic "async", key the function
and the events' request IDs) when this node does not dispatch that function; the owner then loads those
events, or the node that should own the function claims it and loads all of them. When a node dies, its
leases lapse: at the next change of the cluster's nodes the node that now ranks first for each of its
functions claims it and loads its stored events, in-flight ones included (they run again: at least once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from lambkin.cluster.bus import EVERYTHING, Bus
from lambkin.invoke.async_dispatcher import Dispatcher
from lambkin.store import Connection, StoreError

log = logging.getLogger("lambkin.invoke.async")

TOPIC = "async"
PASS_INTERVAL_S = 10.0  # the takeover pass also runs at every change of the cluster's nodes
KEY_LIMIT = 7000  # PostgreSQL's NOTIFY carries under 8000 bytes: longer lists name the function alone


def announcement(function: str, request_ids: Sequence[str]) -> str:
    """The bus key for new events of a function: "FUNCTION\\nID,ID,..." (the function alone if too long)."""
    key = function + "\n" + ",".join(request_ids)
    return key if len(key) <= KEY_LIMIT else function


def announced(key: str) -> tuple[str, list[str] | None]:
    """(function, request IDs or None for all of its events) of an announcement."""
    function, _, ids = key.partition("\n")
    return function, (ids.split(",") if ids else None)


def announcer(bus: Bus) -> Callable[[Connection, str, Sequence[str]], None]:
    """The dispatcher's `announce`: on the bus, inside the unit of work that stores the events."""

    def announce(conn: Connection, function: str, request_ids: Sequence[str]) -> None:
        bus.announce(conn, TOPIC, announcement(function, request_ids))

    return announce


class AsyncOwnership:
    """`run()` takes on the functions this node should dispatch (at start, when nodes come and go, every
    PASS_INTERVAL_S) and loads the events other nodes announce for the functions it dispatches."""

    def __init__(self, dispatcher: Dispatcher, bus: Bus) -> None:
        self.dispatcher = dispatcher
        self._pending: dict[str, set[str] | None] = {}  # function -> announced IDs (None: all its events)
        self._everything = True
        self._reload = False  # every event of the functions dispatched here, again (announcements missed)
        self._wake = asyncio.Event()
        bus.subscribe(TOPIC, self._heard)
        dispatcher.owners.membership.on_change(self._rescan)
        dispatcher.owners.on_lost(dispatcher.drop)

    def _heard(self, key: str) -> None:
        if key == EVERYTHING:
            self._reload = True
            self._rescan()
            return
        function, ids = announced(key)
        known = self._pending.get(function, set())
        self._pending[function] = None if ids is None or known is None else known | set(ids)
        self._wake.set()

    def _rescan(self) -> None:
        self._everything = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.settle()
            except StoreError as exc:
                log.warning("taking on async events waits for the database: %s", exc)
                self._everything = True
            try:
                async with asyncio.timeout(PASS_INTERVAL_S):
                    await self._wake.wait()
            except TimeoutError:
                self._everything = True  # quiet move-on: the periodic pass

    async def settle(self) -> None:
        """One pass: the announced events first, then (if due) every function with stored events."""
        dispatcher = self.dispatcher
        pending, self._pending = self._pending, {}
        if self._reload:
            self._reload = False
            pending.update(dict.fromkeys(dispatcher.owners.mine()))
        for function, ids in pending.items():
            if dispatcher.owners.held(function) is not None:
                await dispatcher.load(function, None if ids is None else sorted(ids))
            else:
                await dispatcher.take(function)
        if self._everything:
            self._everything = False
            taken = await dispatcher.restore()
            if taken:
                log.info("async: took on %d stored events", taken)
