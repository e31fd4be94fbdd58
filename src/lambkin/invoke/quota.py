"""Cluster-wide concurrency: each node holds grants of slots per key (a function with reserved concurrency,
or "" for the account's unreserved pool) in the database, and the grants of the live nodes never add up to
more than the key's limit.

An invoke takes a slot of the grant this node holds, in memory, without I/O; only when every slot held is in
use does the node ask the database for more (one unit of work, serialized per key by a row lock), and a
refusal is Lambda's throttle. Every second a node trims each grant to what it used at most since the last
trim (plus a little headroom for the unreserved pool), so slots it no longer needs go back; a gone node's
grants count for nothing (and are deleted by the next node that asks for that key). The decisions are pure
(`grant`, `trimmed`); `Grants` keeps the counts and does the I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from lambkin.invoke.concurrency import ACCOUNT_LIMIT, RESERVED_LIMIT, Throttled
from lambkin.store import Connection, Migration, Store, StoreUnavailable

log = logging.getLogger("lambkin.invoke.quota")

MIGRATIONS = [
    Migration(
        "quota",
        1,
        """
        CREATE TABLE concurrency_keys (key TEXT PRIMARY KEY);
        CREATE TABLE concurrency_grants (
            key TEXT NOT NULL,
            node TEXT NOT NULL,
            slots INTEGER NOT NULL,
            PRIMARY KEY (key, node)
        );
        """,
    )
]

UNRESERVED = ""  # the key of the account's pool for functions without reserved concurrency
HEADROOM = 2  # slots of the unreserved pool a node keeps beyond its recent peak (no round trip per invoke)
TRIM_S = 1.0


def grant(held: Mapping[str, int], me: str, want: int, limit: int, live: Collection[str]) -> int:
    """What this node may hold of a key, given what every node holds (`held`, by node): what it wants, at
    most what the live others leave of `limit` (a lowered limit may leave less than it has in flight)."""
    others = sum(slots for node, slots in held.items() if node != me and node in live)
    return max(0, min(want, limit - others))


def trimmed(held: int, in_flight: int, peak: int, headroom: int) -> int:
    """What a grant shrinks to: the most used since the last trim, and the headroom; never grown here."""
    return min(held, max(in_flight, peak) + headroom)


@dataclass
class _Key:
    held: int = 0
    in_flight: int = 0
    peak: int = 0  # the most in flight since the last trim


class Grants:
    """This node's grants. `start()` forgets a previous run's; `take(key, limit)` takes a slot or raises
    Throttled; `give(key)` returns it; `run()` trims the grants every TRIM_S and gives them all back when
    cancelled."""

    def __init__(self, db: Store, me: str, live: Callable[[], Collection[str]]) -> None:
        self.db = db
        self.me = me
        self.live = live
        self._keys: dict[str, _Key] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def held(self, key: str) -> int:
        state = self._keys.get(key)
        return 0 if state is None else state.held

    async def take(self, key: str, limit: int) -> None:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        if state.in_flight >= state.held:
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:  # the takes waiting meanwhile may find what the first one got
                if state.in_flight >= state.held:
                    headroom = HEADROOM if key == UNRESERVED else 0
                    want = state.in_flight + 1 + headroom
                    live = set(self.live()) | {self.me}
                    state.held = await self.db.run(lambda conn: _grow(conn, key, self.me, want, limit, live))
                if state.in_flight >= state.held:
                    raise Throttled(ACCOUNT_LIMIT if key == UNRESERVED else RESERVED_LIMIT)
        state.in_flight += 1
        state.peak = max(state.peak, state.in_flight)

    def give(self, key: str) -> None:
        self._keys[key].in_flight -= 1

    def start(self) -> None:
        """Forgets what this node held before it restarted (at build, before any invoke can take a slot)."""
        self.db.run_sync(lambda conn: _forget(conn, self.me))

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(TRIM_S)
                try:
                    await self.trim()
                except StoreUnavailable as exc:
                    log.warning("trimming concurrency grants waits for the database: %s", exc.reason)
        finally:
            self._keys.clear()
            await asyncio.shield(self.db.run(lambda conn: _forget(conn, self.me)))

    async def trim(self) -> None:
        """Shrinks each grant to its use since the last trim (one unit of work for all that shrink)."""
        shrunk: dict[str, int] = {}
        for key, state in self._keys.items():
            headroom = HEADROOM if key == UNRESERVED else 0
            new = trimmed(state.held, state.in_flight, state.peak, headroom)
            state.peak = state.in_flight
            if new < state.held:
                state.held = shrunk[key] = new
        if shrunk:
            await self.db.run(lambda conn: _set(conn, self.me, shrunk))


def _grow(conn: Connection, key: str, me: str, want: int, limit: int, live: Collection[str]) -> int:
    conn.execute("INSERT INTO concurrency_keys (key) VALUES (?) ON CONFLICT (key) DO NOTHING", (key,))
    # Every grower of this key waits here for the one before it to commit, so `held` is what is granted.
    conn.execute("SELECT key FROM concurrency_keys WHERE key = ? FOR UPDATE", (key,))
    held = {
        row[0]: int(row[1])
        for row in conn.execute("SELECT node, slots FROM concurrency_grants WHERE key = ?", (key,))
    }
    for node in held.keys() - live:
        conn.execute("DELETE FROM concurrency_grants WHERE key = ? AND node = ?", (key, node))
    slots = grant(held, me, want, limit, live)
    conn.execute(
        "INSERT INTO concurrency_grants (key, node, slots) VALUES (?, ?, ?) "
        "ON CONFLICT (key, node) DO UPDATE SET slots = excluded.slots",
        (key, me, slots),
    )
    return slots


def _set(conn: Connection, me: str, slots: Mapping[str, int]) -> None:
    conn.executemany(
        "UPDATE concurrency_grants SET slots = ? WHERE key = ? AND node = ?",
        [(count, key, me) for key, count in slots.items()],
    )


def _forget(conn: Connection, me: str) -> None:
    conn.execute("DELETE FROM concurrency_grants WHERE node = ?", (me,))
