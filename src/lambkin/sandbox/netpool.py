"""A few network namespaces prepared ahead of demand, so that making one (and its link) is off cold starts."""

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


class NamespacePool:
    """Keeps up to `size` fresh namespaces (linked through `outward`, if given); each is handed out once."""

    def __init__(self, outward: Outward | None, size: int = POOL_SIZE) -> None:
        self.outward = outward
        self._size = size
        self._ready: list[NetworkNamespace] = []
        self._filling: asyncio.Task[None] | None = None
        self._closed = False

    async def take(self) -> NetworkNamespace:
        """A prepared namespace, or one made now when none is ready; the pool refills behind."""
        if self._ready:
            namespace = self._ready.pop()
        else:
            namespace = await self._make()
        self.fill()
        return namespace

    def fill(self) -> None:
        """Starts refilling the pool in the background, unless it is full or filling already."""
        if self._closed or self._filling is not None or len(self._ready) >= self._size:
            return
        self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        try:
            while len(self._ready) < self._size and not self._closed:
                self._ready.append(await self._make())
        except OSError as exc:
            log.warning("preparing a network namespace failed (cold starts will make their own): %s", exc)
        finally:
            if self._filling is asyncio.current_task():
                self._filling = None

    async def _make(self) -> NetworkNamespace:
        outward = self.outward
        return await in_own_thread(lambda: netns.create(outward), lambda namespace: namespace.close())

    def drain(self) -> None:
        """Closes every namespace not handed out (their links go with them) and stops refilling for now."""
        if self._filling is not None:
            self._filling.cancel()
            self._filling = None
        while self._ready:
            self._ready.pop().close()

    def close(self) -> None:
        """Drains the pool for good: it makes no more."""
        self._closed = True
        self.drain()
