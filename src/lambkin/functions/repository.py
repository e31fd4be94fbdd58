"""Functions, versions and aliases in SQLite: the schema's migrations and row ↔ domain object mapping.

Every method takes the open connection of a `Store.run` transaction, so the service can read, decide
and write in one unit of work.
"""

from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType
from typing import Any

from lambkin.functions.model import LATEST, Alias, FunctionRecord, FunctionVersion
from lambkin.functions.states import State, UpdateStatus
from lambkin.store import Connection, Migration

MIGRATIONS = [
    Migration(
        "functions",
        1,
        """
        CREATE TABLE functions (
            name TEXT PRIMARY KEY,
            tags TEXT NOT NULL DEFAULT '{}',
            reserved_concurrency INTEGER,
            last_version INTEGER NOT NULL DEFAULT 0,
            publish_after_update INTEGER NOT NULL DEFAULT 0,
            publish_description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE function_versions (
            function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            config TEXT NOT NULL,
            busy INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (function_name, number)
        );
        CREATE INDEX function_versions_busy ON function_versions (busy) WHERE busy = 1;
        CREATE TABLE function_aliases (
            function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
            name TEXT NOT NULL,
            config TEXT NOT NULL,
            PRIMARY KEY (function_name, name)
        )
        """,
    )
]

_TUPLES = (
    "entry_point",
    "command",
    "architectures",
    "vpc_subnet_ids",
    "vpc_security_group_ids",
    "layers",
    "layer_sizes",
)
_VERSION_SELECT = "SELECT v.config, f.reserved_concurrency FROM function_versions v JOIN functions f ON f.name = v.function_name"


def version_number(version: str) -> int:
    return 0 if version == LATEST else int(version)


def _encode_version(version: FunctionVersion) -> str:
    data = _shallow(version)
    data.pop("reserved_concurrency")
    data["environment"] = dict(version.environment)
    return json.dumps(data, separators=(",", ":"))


def _shallow(item: FunctionVersion | Alias) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


class _DecodedVersions:
    """Rows already decoded, by their stored text: a listing page re-reads mostly unchanged rows."""

    LIMIT = 8192

    def __init__(self) -> None:
        self._by_text: dict[tuple[str, int | None], FunctionVersion] = {}

    def get(self, config: str, reserved: int | None) -> FunctionVersion:
        key = (config, reserved)
        found = self._by_text.get(key)
        if found is None:
            if len(self._by_text) >= self.LIMIT:
                self._by_text.clear()
            found = self._by_text[key] = _decode_version_text(config, reserved)
        return found


_decoded = _DecodedVersions()


def _decode_version(config: str, reserved: int | None) -> FunctionVersion:
    return _decoded.get(config, reserved)


def _decode_version_text(config: str, reserved: int | None) -> FunctionVersion:
    data: dict[str, Any] = json.loads(config)
    for key in _TUPLES:
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    data["environment"] = MappingProxyType(data["environment"])
    data["state"] = State(data["state"])
    data["last_update_status"] = UpdateStatus(data["last_update_status"])
    return FunctionVersion(**data, reserved_concurrency=reserved)


def _decode_alias(config: str) -> Alias:
    data: dict[str, Any] = json.loads(config)
    data["additional_weights"] = MappingProxyType(data["additional_weights"])
    return Alias(**data)


def _busy(version: FunctionVersion) -> int:
    return int(version.state is State.PENDING or version.last_update_status is UpdateStatus.IN_PROGRESS)


class FunctionRepository:
    """Reads and writes of the control plane's three tables."""

    # functions

    def record(self, conn: Connection, name: str) -> FunctionRecord | None:
        row = conn.execute("SELECT * FROM functions WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return FunctionRecord(
            name=row["name"],
            tags=MappingProxyType(json.loads(row["tags"])),
            reserved_concurrency=row["reserved_concurrency"],
            last_version=row["last_version"],
            publish_after_update=bool(row["publish_after_update"]),
            publish_description=row["publish_description"],
        )

    def put_record(self, conn: Connection, record: FunctionRecord) -> None:
        conn.execute(
            "INSERT INTO functions (name, tags, reserved_concurrency, last_version, publish_after_update,"
            " publish_description) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " tags = excluded.tags, reserved_concurrency = excluded.reserved_concurrency,"
            " last_version = excluded.last_version, publish_after_update = excluded.publish_after_update,"
            " publish_description = excluded.publish_description",
            (
                record.name,
                json.dumps(dict(record.tags)),
                record.reserved_concurrency,
                record.last_version,
                int(record.publish_after_update),
                record.publish_description,
            ),
        )

    def delete_function(self, conn: Connection, name: str) -> None:
        conn.execute("DELETE FROM functions WHERE name = ?", (name,))

    def reserved_total(self, conn: Connection, excluding: str | None = None) -> int:
        (row,) = conn.execute(  # an aggregate's one row
            "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name <> ?", (excluding or "",)
        ).fetchall()
        return int(row[0])  # PostgreSQL's SUM of BIGINT is a NUMERIC (a Decimal)

    def usage(self, conn: Connection) -> tuple[int, int]:
        """(function count, total code size of every version)."""
        (row,) = conn.execute("SELECT COUNT(*) FROM functions").fetchall()
        # Summed here rather than with an engine's JSON functions (SQLite's and PostgreSQL's differ).
        rows = conn.execute("SELECT config FROM function_versions")
        size = sum(json.loads(r[0]).get("code_size") or 0 for r in rows)
        return int(row[0]), size

    # versions

    def version(self, conn: Connection, name: str, version: str) -> FunctionVersion | None:
        row = conn.execute(
            f"{_VERSION_SELECT} WHERE v.function_name = ? AND v.number = ?", (name, version_number(version))
        ).fetchone()
        return None if row is None else _decode_version(row[0], row[1])

    def put_version(self, conn: Connection, version: FunctionVersion) -> None:
        conn.execute(
            "INSERT INTO function_versions (function_name, number, config, busy) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (function_name, number) DO UPDATE SET config = excluded.config, busy = excluded.busy",
            (version.name, version_number(version.version), _encode_version(version), _busy(version)),
        )

    def delete_version(self, conn: Connection, name: str, version: str) -> None:
        conn.execute(
            "DELETE FROM function_versions WHERE function_name = ? AND number = ?",
            (name, version_number(version)),
        )

    def versions_of(
        self, conn: Connection, name: str, after: int = -1, limit: int | None = None
    ) -> list[FunctionVersion]:
        bound = "" if limit is None else f" LIMIT {int(limit)}"
        rows = conn.execute(
            f"{_VERSION_SELECT} WHERE v.function_name = ? AND v.number > ? ORDER BY v.number{bound}",
            (name, after),
        )
        return [_decode_version(r[0], r[1]) for r in rows]

    def listing(
        self, conn: Connection, after: tuple[str, int] | None, limit: int, all_versions: bool
    ) -> list[FunctionVersion]:
        """Functions by name ($LATEST only, or every version), after the (name, number) marker."""
        name, number = after if after is not None else ("", -1)
        only_latest = "" if all_versions else " AND v.number = 0"
        rows = conn.execute(
            f"{_VERSION_SELECT} WHERE (v.function_name, v.number) > (?, ?)"
            f"{only_latest} ORDER BY v.function_name, v.number LIMIT {int(limit)}",
            (name, number),
        )
        return [_decode_version(r[0], r[1]) for r in rows]

    def version_keys(self, conn: Connection) -> set[tuple[str, str]]:
        """Every (function name, version) there is ("$LATEST" for number 0)."""
        rows = conn.execute("SELECT function_name, number FROM function_versions")
        return {(r[0], LATEST if r[1] == 0 else str(r[1])) for r in rows}

    def busy(self, conn: Connection) -> list[FunctionVersion]:
        """Versions with background work due: Pending, or a code update InProgress."""
        rows = conn.execute(f"{_VERSION_SELECT} WHERE v.busy = 1 ORDER BY v.function_name, v.number")
        return [_decode_version(r[0], r[1]) for r in rows]

    # aliases

    def alias(self, conn: Connection, name: str, alias: str) -> Alias | None:
        row = conn.execute(
            "SELECT config FROM function_aliases WHERE function_name = ? AND name = ?", (name, alias)
        ).fetchone()
        return None if row is None else _decode_alias(row[0])

    def put_alias(self, conn: Connection, alias: Alias) -> None:
        data = _shallow(alias)
        data["additional_weights"] = dict(alias.additional_weights)
        conn.execute(
            "INSERT INTO function_aliases (function_name, name, config) VALUES (?, ?, ?)"
            " ON CONFLICT (function_name, name) DO UPDATE SET config = excluded.config",
            (alias.function_name, alias.name, json.dumps(data)),
        )

    def delete_alias(self, conn: Connection, name: str, alias: str) -> None:
        conn.execute("DELETE FROM function_aliases WHERE function_name = ? AND name = ?", (name, alias))

    def aliases_of(self, conn: Connection, name: str) -> list[Alias]:
        rows = conn.execute(
            "SELECT config FROM function_aliases WHERE function_name = ? ORDER BY name", (name,)
        )
        return [_decode_alias(r[0]) for r in rows]
