"""Layers and their versions in the database: the schema's migrations and row ↔ LayerVersion mapping."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from lambkin.store import Connection, Migration

MIGRATIONS = [
    Migration(
        "layers",
        1,
        """
        CREATE TABLE layers (
            name TEXT PRIMARY KEY,
            last_version INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE layer_versions (
            layer_name TEXT NOT NULL REFERENCES layers(name) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            config TEXT NOT NULL,
            policy TEXT NOT NULL DEFAULT '',
            revision_id TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (layer_name, number)
        )
        """,
    )
]


@dataclass(frozen=True)
class LayerVersion:
    """One published version of a layer: its package (stored as functions' are) and what Lambda reports."""

    name: str
    version: int
    created: str  # Lambda's CreatedDate form, 2018-11-27T15:10:45.123+0000
    code_sha256: str  # base64, as Lambda reports it
    code_size: int
    package_digest: str  # the stored zip's blob
    layer_digest: str  # its tar layer under /opt (digest = diff ID)
    layer_size: int
    unzipped_size: int
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None


@dataclass(frozen=True)
class LayerPolicy:
    """A layer version's resource policy (its statements; none: no policy) and its RevisionId."""

    statements: tuple[dict[str, Any], ...] = ()
    revision_id: str = ""


def _decode(config: str) -> LayerVersion:
    data: dict[str, Any] = json.loads(config)
    data["compatible_runtimes"] = tuple(data["compatible_runtimes"])
    data["compatible_architectures"] = tuple(data["compatible_architectures"])
    return LayerVersion(**data)


class LayerRepository:
    """Reads and writes of the two tables, inside a `Store.run` transaction."""

    def next_version(self, conn: Connection, name: str) -> int:
        """Reserves the layer's next version number (numbers are never reused, even after deletes)."""
        conn.execute(
            "INSERT INTO layers (name, last_version) VALUES (?, 1)"
            " ON CONFLICT (name) DO UPDATE SET last_version = layers.last_version + 1",
            (name,),
        )
        (row,) = conn.execute("SELECT last_version FROM layers WHERE name = ?", (name,)).fetchall()
        return int(row[0])

    def put(self, conn: Connection, version: LayerVersion) -> None:
        conn.execute(
            "INSERT INTO layer_versions (layer_name, number, config) VALUES (?, ?, ?)",
            (version.name, version.version, json.dumps(dataclasses.asdict(version), separators=(",", ":"))),
        )

    def get(self, conn: Connection, name: str, number: int) -> LayerVersion | None:
        row = conn.execute(
            "SELECT config FROM layer_versions WHERE layer_name = ? AND number = ?", (name, number)
        ).fetchone()
        return None if row is None else _decode(row[0])

    def delete(self, conn: Connection, name: str, number: int) -> None:
        conn.execute("DELETE FROM layer_versions WHERE layer_name = ? AND number = ?", (name, number))

    def versions(self, conn: Connection, name: str) -> list[LayerVersion]:
        """The layer's versions, newest first."""
        rows = conn.execute(
            "SELECT config FROM layer_versions WHERE layer_name = ? ORDER BY number DESC", (name,)
        )
        return [_decode(r[0]) for r in rows]

    def all_versions(self, conn: Connection) -> list[LayerVersion]:
        """Every layer's versions, by layer name, newest first within a layer."""
        rows = conn.execute("SELECT config FROM layer_versions ORDER BY layer_name, number DESC")
        return [_decode(r[0]) for r in rows]

    def policy(self, conn: Connection, name: str, number: int) -> LayerPolicy:
        row = conn.execute(
            "SELECT policy, revision_id FROM layer_versions WHERE layer_name = ? AND number = ?",
            (name, number),
        ).fetchone()
        if row is None or not row[0]:
            return LayerPolicy(revision_id=row[1] if row is not None else "")
        return LayerPolicy(tuple(json.loads(row[0])["Statement"]), row[1])

    def put_policy(self, conn: Connection, name: str, number: int, policy: LayerPolicy) -> None:
        text = (
            json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": list(policy.statements)})
            if policy.statements
            else ""
        )
        conn.execute(
            "UPDATE layer_versions SET policy = ?, revision_id = ? WHERE layer_name = ? AND number = ?",
            (text, policy.revision_id, name, number),
        )

    def policy_text(self, conn: Connection, name: str, number: int) -> str | None:
        row = conn.execute(
            "SELECT policy FROM layer_versions WHERE layer_name = ? AND number = ?", (name, number)
        ).fetchone()
        return row[0] if row is not None and row[0] else None
