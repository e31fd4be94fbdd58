"""Refresh: keeps one node's in-memory copy of shared state current, reloading what the bus says changed.

A cache that can simply drop an entry subscribes to the bus itself (its callback runs on the loop and must
not wait). A copy that must be read back from the database (IAM, function policies, mappings, queues'
metadata) hands its topic to a Refresh: the bus's keys are gathered as they come and applied by one loop,
`reload(keys)` (None: everything, after `"*"`), so a burst of news is one read and the loop never blocks.
News arriving while a reload runs is kept for the next round. A reload that fails for the database (away,
full) is tried again, its keys kept, after `retry_s`; a fault of the reload itself is logged and its keys
dropped (reloading them again would fail the same way).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from lambkin.cluster.bus import EVERYTHING, Bus
from lambkin.store import StoreError

log = logging.getLogger("lambkin.cluster")

Reload = Callable[[frozenset[str] | None], Awaitable[None]]
"""Reads the named keys (None: every one) from the database into memory."""

RETRY_S = 1.0


class Refresh:
    def __init__(self, bus: Bus, topic: str, reload: Reload, retry_s: float = RETRY_S) -> None:
        self.topic = topic
        self.reload = reload
        self.retry_s = retry_s
        self._keys: set[str] = set()
        self._everything = False
        self._wake = asyncio.Event()
        bus.subscribe(topic, self.changed)

    def changed(self, key: str) -> None:
        """The bus's callback: `key` changed somewhere (`"*"`: anything may have)."""
        if key == EVERYTHING:
            self._everything = True
        else:
            self._keys.add(key)
        self._wake.set()

    @property
    def pending(self) -> bool:
        return self._everything or bool(self._keys)

    async def run(self) -> None:
        """Applies the news until cancelled (a part's background loop)."""
        while True:
            await self._wake.wait()
            await self.step()

    async def step(self) -> None:
        """One round: reloads what was announced since the last, or waits `retry_s` after the database failed."""
        self._wake.clear()
        keys, everything = self._keys, self._everything
        self._keys, self._everything = set(), False
        if not keys and not everything:
            return
        try:
            await self.reload(None if everything else frozenset(keys))
        except StoreError as exc:
            log.warning("reloading %s waits for the database: %s", self.topic, exc)
            self._keys |= keys
            self._everything |= everything
            await asyncio.sleep(self.retry_s)
            self._wake.set()
        except Exception:
            log.exception("reloading %s failed (keys %s)", self.topic, sorted(keys) or EVERYTHING)
