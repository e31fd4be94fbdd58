"""ReadCache: recent reads per function, dropped whenever that function is written (event-loop thread only).

It holds the control plane's reads and the invoke targets made of them (`invoke/targets.py`), dropped
together. Readers note the function's generation before they read the store and keep the result only if no
write finished in between; writers go through `write`, which drops the function's entries once the
transaction commits. So a cached read is never older than the last committed write of this process. Nodes
sharing one database hear of each other's writes on the bus: `write` announces the function's name (topic
`functions`) inside its transaction, and every node drops that function's entries when the news comes
(everything on `"*"`), so a read there is at most the bus's delay old. Reads that span functions (a
listing's page) are kept under the name `ALL` with the span of function names they depend on: a write to a
function drops those whose span holds its name (a read kept without a span, any write drops), and a write to
any function while such a read is under way keeps it from being kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from lambkin.cluster.bus import EVERYTHING, Bus, SoloBus
from lambkin.store import Connection, Store

LIMIT = 16_384
PER_NAME_LIMIT = 1024
ALL = ""  # no function has an empty name
TOPIC = "functions"  # the bus's topic: a function (its versions, aliases, settings, configs) changed
T = TypeVar("T")

Span = tuple[str, str | None]
"""The function names a read across functions depends on, from the first to the last, both included (a last
of None: every name from the first on). `("", None)` is every function."""

EVERY_NAME: Span = ("", None)


class ReadCache:
    def __init__(self, bus: Bus | None = None) -> None:
        self.bus: Bus = bus or SoloBus()
        self._entries: dict[str, dict[Hashable, Any]] = {}
        self._generations: dict[str, int] = {}
        self._epoch = 0  # counts `clear`s: part of every name's generation
        self._spans: dict[Hashable, Span] = {}  # of the entries kept under ALL
        self.bus.subscribe(TOPIC, self.changed)

    def generation(self, name: str) -> int:
        return self._epoch + self._generations.get(name, 0)

    def get(self, name: str, key: Hashable) -> Any:
        entries = self._entries.get(name)
        return None if entries is None else entries.get(key)

    def put(self, name: str, key: Hashable, value: Any, generation: int, span: Span = EVERY_NAME) -> None:
        """Keeps `value` read at `generation` of `name`; under ALL, `span` names the functions it read."""
        if self.generation(name) != generation:
            return
        if len(self._entries) >= LIMIT and name not in self._entries:
            self._entries.clear()
            self._spans.clear()
        entries = self._entries.setdefault(name, {})
        if len(entries) >= PER_NAME_LIMIT:
            entries.clear()
            if name == ALL:
                self._spans.clear()
        entries[key] = value
        if name == ALL:
            self._spans[key] = span

    def invalidate(self, name: str) -> None:
        for dropped in (name, ALL):
            self._generations[dropped] = self._generations.get(dropped, 0) + 1
        self._entries.pop(name, None)
        spanning = self._entries.get(ALL)
        if spanning:
            for key in [key for key, span in self._spans.items() if _holds(span, name)]:
                del self._spans[key]
                spanning.pop(key, None)

    def clear(self) -> None:
        """Drops everything, and keeps every read under way from being kept."""
        self._epoch += 1
        self._entries.clear()
        self._spans.clear()

    def changed(self, key: str) -> None:
        """The bus's news: function `key` was written (on this node or another), or `"*"`: any may have been."""
        if key == EVERYTHING:
            self.clear()
        else:
            self.invalidate(key)

    async def write(self, db: Store, name: str, fn: Callable[[Connection], T]) -> T:
        """Runs `fn`, a write of function `name`, as one unit of work that announces it to the other nodes;
        then drops what was cached for it."""

        def unit(conn: Connection) -> T:
            done = fn(conn)
            self.bus.announce(conn, TOPIC, name)
            return done

        try:
            return await db.run(unit)
        finally:
            self.invalidate(name)


def _holds(span: Span, name: str) -> bool:
    first, last = span
    return first <= name and (last is None or name <= last)
