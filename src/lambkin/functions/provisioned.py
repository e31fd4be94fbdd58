"""Provisioned concurrency configs: how many environments a published version or alias keeps initialized.

The configs live in SQLite; the execution core keeps the environments (invoke/provisioning.py) and reports
how many are ready through `report_allocated`, which is what Get/List answer as Allocated and Available.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from lambkin.cluster.bus import Bus, SoloBus
from lambkin.functions.account import check_reservation
from lambkin.functions.changes import timestamp
from lambkin.functions.errors import FunctionNotFound, FunctionsError, InvalidParameterValue
from lambkin.functions.lookup import DEFAULT_PAGE, Lookup, decode_marker, encode_marker
from lambkin.functions.model import LATEST, Page
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.store import Connection, Migration, Store

# Namespace "provisioned" sorts after "functions", so the table its foreign key names exists first.
MIGRATIONS = [
    Migration(
        "provisioned",
        1,
        """
        CREATE TABLE provisioned_concurrency (
            function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
            qualifier TEXT NOT NULL,
            requested INTEGER NOT NULL,
            last_modified TEXT NOT NULL,
            PRIMARY KEY (function_name, qualifier)
        )
        """,
    )
]

TOPIC = "provisioned-concurrency"  # the bus's topic: a function's provisioned concurrency configs changed
UNPUBLISHED = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
WEIGHTED_ALIAS = "Alias with weights can not be used with Provisioned Concurrency"


class ConfigNotFound(FunctionsError):
    code = "ProvisionedConcurrencyConfigNotFoundException"


@dataclass(frozen=True)
class ProvisionedConfig:
    """One config, with how many of its environments are initialized right now."""

    function_name: str
    qualifier: str
    requested: int
    last_modified: str
    allocated: int = 0
    failure: str | None = None  # why environments could not be initialized (retried meanwhile)

    @property
    def status(self) -> str:
        if self.allocated >= self.requested:
            return "READY"
        return "FAILED" if self.failure else "IN_PROGRESS"


class ProvisionedConcurrency:
    """Put/Get/Delete/List of the configs; `targets()` is what the execution core keeps warm."""

    def __init__(self, db: Store, arns: Arns, concurrency_limit: int = 1000, bus: Bus | None = None) -> None:
        self.db = db
        self.bus: Bus = bus or SoloBus()  # each write announced (the keepers of every node wake to it)
        self.arns = arns
        self.concurrency_limit = concurrency_limit
        self.repo = FunctionRepository()
        self.lookup = Lookup(arns, self.repo)
        self._allocated: dict[tuple[str, str], tuple[int, str | None]] = {}

    async def put(self, ref: FunctionRef, requested: int) -> ProvisionedConfig:
        qualifier = self._published(ref)
        now = timestamp(time.time())

        def write(conn: Connection) -> None:
            record = self.lookup.record(conn, ref.name)
            _, alias = self.lookup.qualified(conn, ref)  # ResourceNotFoundException for a missing one
            if alias is not None and alias.additional_weights:
                raise InvalidParameterValue(WEIGHTED_ALIAS)
            if record.reserved_concurrency is not None:
                others = conn.execute(
                    "SELECT COALESCE(SUM(requested), 0) FROM provisioned_concurrency"
                    " WHERE function_name = ? AND qualifier <> ?",
                    (ref.name, qualifier),
                ).fetchall()[0][0]
                others = int(others)  # PostgreSQL's SUM of BIGINT is a NUMERIC (a Decimal)
                if others + requested > record.reserved_concurrency:
                    raise InvalidParameterValue(
                        f"Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                        f"for function: {record.reserved_concurrency}"
                    )
            else:
                # From the account's unreserved pool, which must keep its minimum.
                others = conn.execute(
                    "SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_concurrency p"
                    " JOIN functions f ON f.name = p.function_name"
                    " WHERE f.reserved_concurrency IS NULL AND NOT (p.function_name = ? AND p.qualifier = ?)",
                    (ref.name, qualifier),
                ).fetchall()[0][0]
                taken = self.repo.reserved_total(conn) + int(others)
                check_reservation(requested, self.concurrency_limit, taken, "ConcurrentExecutions")
            conn.execute(
                "INSERT INTO provisioned_concurrency (function_name, qualifier, requested, last_modified)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (function_name, qualifier) DO UPDATE SET"
                " requested = excluded.requested, last_modified = excluded.last_modified",
                (ref.name, qualifier, requested, now),
            )
            self.bus.announce(conn, TOPIC, ref.name)

        await self.db.run(write)
        return self._with_allocation(ProvisionedConfig(ref.name, qualifier, requested, now))

    async def get(self, ref: FunctionRef) -> ProvisionedConfig:
        qualifier = self._published(ref)

        def read(conn: Connection) -> ProvisionedConfig | None:
            self.lookup.record(conn, ref.name)
            row = conn.execute(
                "SELECT requested, last_modified FROM provisioned_concurrency"
                " WHERE function_name = ? AND qualifier = ?",
                (ref.name, qualifier),
            ).fetchone()
            return None if row is None else ProvisionedConfig(ref.name, qualifier, row[0], row[1])

        found = await self.db.run(read)
        if found is None:
            raise self._not_found(ref)
        return self._with_allocation(found)

    async def delete(self, ref: FunctionRef) -> None:
        qualifier = self._published(ref)

        def write(conn: Connection) -> int:
            self.lookup.record(conn, ref.name)
            self.bus.announce(conn, TOPIC, ref.name)
            return conn.execute(
                "DELETE FROM provisioned_concurrency WHERE function_name = ? AND qualifier = ?",
                (ref.name, qualifier),
            ).rowcount

        if not await self.db.run(write):  # the one error of Get's that Delete's model does not list
            raise FunctionNotFound(self._none_for(ref))

    async def listing(
        self, ref: FunctionRef, marker: str | None, max_items: int | None
    ) -> Page[ProvisionedConfig]:
        """One page of a function's configs in qualifier order, with the marker of the next."""
        after = decode_marker(marker)
        after_qualifier = None if after is None else after[0]
        limit = max_items or DEFAULT_PAGE

        def read(conn: Connection) -> list[ProvisionedConfig]:
            self.lookup.record(conn, ref.name)
            rows = conn.execute(
                "SELECT qualifier, requested, last_modified FROM provisioned_concurrency"
                f" WHERE function_name = ? AND qualifier > ? ORDER BY qualifier LIMIT {int(limit) + 1}",
                (ref.name, after_qualifier or ""),
            ).fetchall()
            return [ProvisionedConfig(ref.name, q, n, t) for q, n, t in rows]

        rows = [self._with_allocation(config) for config in await self.db.run(read)]
        return Page.of(rows, limit, lambda last: encode_marker(last.qualifier, 0))

    async def targets(self) -> list[ProvisionedConfig]:
        """Every config of every function (the execution core's work list)."""

        def read(conn: Connection) -> list[ProvisionedConfig]:
            rows = conn.execute(
                "SELECT function_name, qualifier, requested, last_modified FROM provisioned_concurrency"
            ).fetchall()
            return [ProvisionedConfig(*row) for row in rows]

        return await self.db.run(read)

    def report_allocated(self, allocated: Mapping[tuple[str, str], tuple[int, str | None]]) -> None:
        """The execution core's count of initialized environments per (function, qualifier), and why
        starting more last failed, if it did."""
        self._allocated = dict(allocated)

    def _with_allocation(self, config: ProvisionedConfig) -> ProvisionedConfig:
        ready, failure = self._allocated.get((config.function_name, config.qualifier), (0, None))
        return ProvisionedConfig(
            config.function_name,
            config.qualifier,
            config.requested,
            config.last_modified,
            min(ready, config.requested),
            failure,
        )

    def _not_found(self, ref: FunctionRef) -> ConfigNotFound:
        return ConfigNotFound(self._none_for(ref))

    def _none_for(self, ref: FunctionRef) -> str:
        return f"No Provisioned Concurrency Config found for this function: {self.arns.of(ref)}"

    @staticmethod
    def _published(ref: FunctionRef) -> str:
        if ref.qualifier is None or ref.qualifier == LATEST:
            raise InvalidParameterValue(UNPUBLISHED)
        return ref.qualifier
