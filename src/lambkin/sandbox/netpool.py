"""A few network namespaces prepared ahead of demand, so that making one (its link, its DNS) is off cold starts."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from lambkin.sandbox import netns
from lambkin.sandbox.netns import NetworkNamespace
from lambkin.sandbox.threads import in_own_thread

if TYPE_CHECKING:
    from lambkin.network.outward import Outward

log = logging.getLogger("lambkin.sandbox")

POOL_SIZE = 4
# The pool refills once no cold start has been in flight (taken, init not over) for this long: never beside
# a cold start, with which it would share the GIL (its netlink work is Python's).
REFILL_DELAY_S = 0.1


class NamespacePool:
    """Keeps up to `size` fresh namespaces (linked through `outward`, if given); each is handed out once."""

    def __init__(self, outward: Outward | None, size: int = POOL_SIZE) -> None:
        self.outward = outward
        self._size = size
        self._ready: list[NetworkNamespace] = []
        self._filling: asyncio.Task[None] | None = None
        self._later: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._closed = False

    async def take(self) -> NetworkNamespace:
        """A prepared namespace, or one made now when none is ready; call `settled()` once its cold start
        is over."""
        self._in_flight += 1
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if self._ready:
            return self._ready.pop()
        try:
            return await self._make()
        except BaseException:
            self.settled()
            raise

    def settled(self) -> None:
        """A taken namespace's cold start is over (init ended, or the sandbox is gone): once none is in
        flight, the pool refills a moment later."""
        self._in_flight -= 1
        if self._in_flight == 0 and self._later is None and not self._closed:
            self._later = asyncio.get_running_loop().call_later(REFILL_DELAY_S, self._fill_later)

    def _fill_later(self) -> None:
        self._later = None
        if self._in_flight == 0:
            self.fill()

    def fill(self) -> None:
        """Starts refilling the pool in the background, unless it is full or filling already."""
        if self._closed or self._filling is not None or len(self._ready) >= self._size:
            return
        self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        try:
            while len(self._ready) < self._size and not self._closed and self._in_flight == 0:
                self._ready.append(await self._make())
        except OSError as exc:
            log.warning("preparing a network namespace failed (cold starts will make their own): %s", exc)
        finally:
            if self._filling is asyncio.current_task():
                self._filling = None

    async def _make(self) -> NetworkNamespace:
        """A new namespace; with an outward network, linked, its DNS sockets served by the forwarder."""
        outward = self.outward
        namespace = await in_own_thread(lambda: netns.create(outward), lambda namespace: namespace.close())
        if outward is not None and namespace.dns is not None:
            try:
                namespace.serving = await outward.forwarder.serve(*namespace.dns)
            except BaseException:
                namespace.close()
                raise
        return namespace

    def drain(self) -> None:
        """Closes every namespace not handed out (their links go with them) and stops refilling for now."""
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if self._filling is not None:
            self._filling.cancel()
            self._filling = None
        while self._ready:
            self._ready.pop().close()

    def close(self) -> None:
        """Drains the pool for good: it makes no more."""
        self._closed = True
        self.drain()
