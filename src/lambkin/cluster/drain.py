"""A node's way out on SIGTERM: not ready any more, its invokes in flight finished up to a bound, its leases
handed back.

`begin()` moves the node to "draining": /health answers 503 (a load balancer stops sending it requests) and
the membership says so at its next heartbeat (peers stop placing invokes here, and the node no longer ranks
for work it does not hold). `settle()` then returns once no invocation is under way here, but not before
`notice_s` (the balancer's checks must see the 503 before the port closes) nor after `bound_s` (what is
still running then is cut off with the server). Once the server has stopped serving and its background
loops are over, `hand_back()` releases every lease the node still holds, so the next owner takes each at
once instead of after the node's heartbeats have gone stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from lambkin.cluster.leases import Leases
from lambkin.cluster.membership import DRAINING, Membership
from lambkin.config import DRAIN_NOTICE_S, Settings

log = logging.getLogger("lambkin.cluster")

POLL_S = 0.05  # how often `settle` looks at the invocations under way


@dataclass(frozen=True)
class DrainSettings:
    notice_s: float = 0.0  # /health says 503 at least this long before the port closes
    bound_s: float = 30.0  # invocations under way get at most this long to finish


def drain_settings(settings: Settings) -> DrainSettings:
    """LAMBKIN_DRAIN_NOTICE (by default DRAIN_NOTICE_S for a node of a cluster, none for a server alone: no
    balancer checks it) and LAMBKIN_DRAIN_TIMEOUT."""
    notice = settings.drain_notice_s
    if notice is None:
        notice = DRAIN_NOTICE_S if settings.clustered else 0.0
    return DrainSettings(notice_s=notice, bound_s=settings.drain_timeout_s)


class Drain:
    """The steps of one node's drain; `in_use()` counts the invocations under way here."""

    def __init__(
        self,
        membership: Membership,
        leases: Leases,
        in_use: Callable[[], int],
        settings: DrainSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.membership = membership
        self.leases = leases
        self.in_use = in_use
        self.settings = settings
        self.clock = clock

    def begin(self) -> None:
        if self.membership.state != DRAINING:
            self.membership.set_state(DRAINING)
            log.info("draining: %d invocations under way", self.in_use())

    async def settle(self) -> None:
        """Waits for the invocations under way, within the notice and the bound (see the module)."""
        start = self.clock()
        while True:
            waited = self.clock() - start
            if waited >= self.settings.bound_s:
                left = self.in_use()
                if left:
                    log.warning("drain bound of %.0f s reached: %d invocations cut off", waited, left)
                return
            if waited >= self.settings.notice_s and not self.in_use():
                return
            await asyncio.sleep(POLL_S)

    async def hand_back(self) -> None:
        """Releases every lease this node holds and leaves the cluster, so the others take its work at once;
        if the database is away, the leases expire with the node."""
        held = len(self.leases.mine())
        try:
            await self.leases.release_all()
            await self.membership.leave()
        except Exception as exc:  # StoreUnavailable, or anything else: the leases then expire
            log.warning("%d leases not released (%s): they expire with this node", held, exc)
            return
        if held:
            log.info("%d leases handed back", held)
