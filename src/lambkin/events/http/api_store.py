"""HTTP APIs' persistence: one row per API and one per part of it (route, integration, stage, deployment),
each a JSON record, in SQL both SQLite and PostgreSQL run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from lambkin.events.http.apis import Api, ApiError, Authorizer, Deployment, Integration, Record, Route, Stage
from lambkin.store import Connection, Migration

MIGRATIONS = [
    Migration(
        "http_apis",
        1,
        """
        CREATE TABLE http_apis (
            api_id TEXT PRIMARY KEY,
            body TEXT NOT NULL
        );
        CREATE TABLE http_api_parts (
            api_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            part_id TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (api_id, kind, part_id)
        )
        """,
    )
]

R = TypeVar("R", bound=Record)
KINDS: dict[type[Record], str] = {
    Route: "route",
    Integration: "integration",
    Stage: "stage",
    Deployment: "deployment",
    Authorizer: "authorizer",
}


def _key(record: Record) -> str:
    if isinstance(record, Route):
        return record.route_id
    if isinstance(record, Integration):
        return record.integration_id
    if isinstance(record, Stage):
        return record.name
    if isinstance(record, Deployment):
        return record.deployment_id
    if isinstance(record, Authorizer):
        return record.authorizer_id
    raise TypeError(type(record).__name__)


def read_api(conn: Connection, api_id: str) -> Api | None:
    row = conn.execute("SELECT body FROM http_apis WHERE api_id = ?", (api_id,)).fetchone()
    return None if row is None else Api.from_json(json.loads(row["body"]))


def list_apis(conn: Connection, after: str, limit: int) -> list[Api]:
    rows = conn.execute(
        f"SELECT body FROM http_apis WHERE api_id > ? ORDER BY api_id LIMIT {int(limit)}", (after,)
    )
    return [Api.from_json(json.loads(row["body"])) for row in rows]


def write_api(conn: Connection, api: Api) -> None:
    conn.execute(
        "INSERT INTO http_apis (api_id, body) VALUES (?, ?) ON CONFLICT (api_id) DO UPDATE SET body = excluded.body",
        (api.api_id, json.dumps(api.to_json())),
    )


def delete_api(conn: Connection, api_id: str) -> None:
    conn.execute("DELETE FROM http_api_parts WHERE api_id = ?", (api_id,))
    conn.execute("DELETE FROM http_apis WHERE api_id = ?", (api_id,))


def read_part(conn: Connection, kind: type[R], api_id: str, part_id: str) -> R | None:
    row = conn.execute(
        "SELECT body FROM http_api_parts WHERE api_id = ? AND kind = ? AND part_id = ?",
        (api_id, KINDS[kind], part_id),
    ).fetchone()
    return None if row is None else kind.from_json(json.loads(row["body"]))


def list_parts(conn: Connection, kind: type[R], api_id: str) -> list[R]:
    rows = conn.execute(
        "SELECT body FROM http_api_parts WHERE api_id = ? AND kind = ? ORDER BY part_id",
        (api_id, KINDS[kind]),
    )
    return [kind.from_json(json.loads(row["body"])) for row in rows]


def write_part(conn: Connection, api_id: str, record: Record) -> None:
    conn.execute(
        "INSERT INTO http_api_parts (api_id, kind, part_id, body) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (api_id, kind, part_id) DO UPDATE SET body = excluded.body",
        (api_id, KINDS[type(record)], _key(record), json.dumps(record.to_json())),
    )


def delete_part(conn: Connection, kind: type[Record], api_id: str, part_id: str) -> bool:
    cursor = conn.execute(
        "DELETE FROM http_api_parts WHERE api_id = ? AND kind = ? AND part_id = ?",
        (api_id, KINDS[kind], part_id),
    )
    return cursor.rowcount > 0


def required(found: R | None, error: Callable[[], ApiError]) -> R:
    if found is None:
        raise error()
    return found
