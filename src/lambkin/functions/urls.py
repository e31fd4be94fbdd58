"""Function URL configs: one per function or alias, with an auth type, CORS and a url-id; stored in the database.

The front door's lookups by url-id are remembered for a moment (LOOKUP_CACHE_S); a write of a URL config
(announced on the bus) or of its function (a deletion cascades to its URLs) on any node forgets them.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from lambkin.cluster.bus import EVERYTHING, Bus, SoloBus
from lambkin.functions import cache
from lambkin.functions.errors import FunctionNotFound, InvalidParameterValue, ResourceConflict
from lambkin.functions.lookup import DEFAULT_PAGE, Lookup, decode_marker, encode_marker
from lambkin.functions.model import LATEST, Page
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.store import Connection, Migration, Row, Store

# Namespace "urls" sorts after "functions", so the tables its foreign keys name exist first.
MIGRATIONS = [
    Migration(
        "urls",
        1,
        """
        CREATE TABLE function_urls (
            url_id TEXT PRIMARY KEY,
            function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
            alias TEXT,
            config TEXT NOT NULL,
            FOREIGN KEY (function_name, alias) REFERENCES function_aliases(function_name, name)
                ON DELETE CASCADE
        );
        CREATE UNIQUE INDEX function_urls_target ON function_urls (function_name, COALESCE(alias, ''))
        """,
    )
]

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
URL_ID_ALPHABET = string.ascii_lowercase + string.digits
LOOKUP_CACHE_S = 1.0
TOPIC = "function-urls"  # the bus's topic: the URL config with this url-id changed
NOT_FOUND = "The resource you requested does not exist."


@dataclass(frozen=True)
class UrlConfig:
    """One function URL: which function (and alias) it invokes, and how it lets requests in."""

    url_id: str
    function_name: str
    alias: str | None
    auth_type: str
    cors: Mapping[str, Any] | None
    invoke_mode: str
    creation_time: str
    last_modified_time: str

    @property
    def qualifier(self) -> str | None:
        return self.alias


def new_url_id() -> str:
    """32 lower-case letters and digits, like Lambda's."""
    return "".join(secrets.choice(URL_ID_ALPHABET) for _ in range(32))


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check(auth_type: str | None, invoke_mode: str | None) -> None:
    if auth_type is not None and auth_type not in AUTH_TYPES:
        raise InvalidParameterValue(f"AuthType must be one of {', '.join(AUTH_TYPES)}")
    if invoke_mode is not None and invoke_mode not in INVOKE_MODES:
        raise InvalidParameterValue(f"InvokeMode must be one of {', '.join(INVOKE_MODES)}")


def _encode(config: UrlConfig) -> str:
    return json.dumps(
        {
            "auth_type": config.auth_type,
            "cors": None if config.cors is None else dict(config.cors),
            "invoke_mode": config.invoke_mode,
            "creation_time": config.creation_time,
            "last_modified_time": config.last_modified_time,
        }
    )


def _decode(row: Row) -> UrlConfig:
    data = json.loads(row["config"])
    cors = data["cors"]
    return UrlConfig(
        url_id=row["url_id"],
        function_name=row["function_name"],
        alias=row["alias"],
        auth_type=data["auth_type"],
        cors=None if cors is None else MappingProxyType(cors),
        invoke_mode=data["invoke_mode"],
        creation_time=data["creation_time"],
        last_modified_time=data["last_modified_time"],
    )


class UrlService:
    """Create, read, update, delete and list URL configs; find one by its url-id for the front door."""

    def __init__(
        self, db: Store, arns: Arns, clock: Callable[[], float] = time.time, bus: Bus | None = None
    ) -> None:
        self.db = db
        self.arns = arns
        self.clock = clock
        self.bus: Bus = bus or SoloBus()
        self.lookup = Lookup(arns, FunctionRepository())
        self._by_id: dict[str, tuple[float, UrlConfig | None]] = {}
        self.bus.subscribe(TOPIC, self._url_changed)
        self.bus.subscribe(cache.TOPIC, self._function_changed)

    def _url_changed(self, url_id: str) -> None:
        if url_id == EVERYTHING:
            self._by_id.clear()
        else:
            self._by_id.pop(url_id, None)

    def _function_changed(self, name: str) -> None:
        if name == EVERYTHING:
            self._by_id.clear()
            return
        for url_id in [k for k, (_, found) in self._by_id.items() if found and found.function_name == name]:
            del self._by_id[url_id]

    def function_arn(self, config: UrlConfig) -> str:
        name = config.function_name
        return self.arns.function(name) if config.alias is None else self.arns.qualified(name, config.alias)

    def _target(self, conn: Connection, ref: FunctionRef) -> str | None:
        """The alias a URL config of `ref` belongs to (None: the unqualified function); checks both exist."""
        self.lookup.record(conn, ref.name)
        if ref.qualifier is None:
            return None
        if ref.qualifier == LATEST or ref.qualifier.isdigit():
            raise InvalidParameterValue("Function URLs can be attached to an alias or $LATEST only.")
        self.lookup.qualified(conn, ref)
        return ref.qualifier

    def _row(self, conn: Connection, ref: FunctionRef) -> UrlConfig:
        alias = self._target(conn, ref)
        row = conn.execute(
            "SELECT * FROM function_urls WHERE function_name = ? AND COALESCE(alias, '') = ?",
            (ref.name, alias or ""),
        ).fetchone()
        if row is None:
            raise FunctionNotFound(NOT_FOUND)
        return _decode(row)

    async def create(
        self, ref: FunctionRef, auth_type: str, cors: Mapping[str, Any] | None, invoke_mode: str | None
    ) -> UrlConfig:
        _check(auth_type, invoke_mode)
        now = _stamp(self.clock())

        def write(conn: Connection) -> UrlConfig:
            alias = self._target(conn, ref)
            taken = conn.execute(
                "SELECT 1 FROM function_urls WHERE function_name = ? AND COALESCE(alias, '') = ?",
                (ref.name, alias or ""),
            ).fetchone()
            if taken is not None:
                arn = self.arns.of(ref)
                raise ResourceConflict(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            config = UrlConfig(
                new_url_id(), ref.name, alias, auth_type, cors, invoke_mode or "BUFFERED", now, now
            )
            conn.execute(
                "INSERT INTO function_urls (url_id, function_name, alias, config) VALUES (?, ?, ?, ?)",
                (config.url_id, config.function_name, config.alias, _encode(config)),
            )
            self.bus.announce(conn, TOPIC, config.url_id)
            return config

        created = await self.db.run(write)
        self._by_id.pop(created.url_id, None)
        return created

    async def get(self, ref: FunctionRef) -> UrlConfig:
        return await self.db.run(lambda conn: self._row(conn, ref))

    async def update(
        self,
        ref: FunctionRef,
        auth_type: str | None,
        cors: Mapping[str, Any] | None,
        invoke_mode: str | None,
    ) -> UrlConfig:
        _check(auth_type, invoke_mode)
        now = _stamp(self.clock())

        def write(conn: Connection) -> UrlConfig:
            current = self._row(conn, ref)
            updated = replace(
                current,
                auth_type=auth_type or current.auth_type,
                cors=current.cors if cors is None else cors,
                invoke_mode=invoke_mode or current.invoke_mode,
                last_modified_time=now,
            )
            conn.execute(
                "UPDATE function_urls SET config = ? WHERE url_id = ?", (_encode(updated), updated.url_id)
            )
            self.bus.announce(conn, TOPIC, updated.url_id)
            return updated

        updated = await self.db.run(write)
        self._by_id.pop(updated.url_id, None)
        return updated

    async def delete(self, ref: FunctionRef) -> None:
        def write(conn: Connection) -> str:
            current = self._row(conn, ref)
            conn.execute("DELETE FROM function_urls WHERE url_id = ?", (current.url_id,))
            self.bus.announce(conn, TOPIC, current.url_id)
            return current.url_id

        self._by_id.pop(await self.db.run(write), None)

    async def list(self, ref: FunctionRef, marker: str | None, max_items: int | None) -> Page[UrlConfig]:
        after = decode_marker(marker)
        after_alias = None if after is None else after[0]
        limit = max_items or DEFAULT_PAGE

        def read(conn: Connection) -> list[UrlConfig]:
            self.lookup.record(conn, ref.name)
            later = "" if after_alias is None else " AND COALESCE(alias, '') > ?"
            rows = conn.execute(
                f"SELECT * FROM function_urls WHERE function_name = ?{later}"
                f" ORDER BY COALESCE(alias, '') LIMIT {int(limit) + 1}",
                (ref.name,) if after_alias is None else (ref.name, after_alias),
            )
            return [_decode(row) for row in rows]

        rows = await self.db.run(read)
        return Page.of(rows, limit, lambda last: encode_marker(last.alias or "", 0))

    async def by_id(self, url_id: str) -> UrlConfig | None:
        """The config a request's url-id names (remembered LOOKUP_CACHE_S; this service's writes forget it)."""
        now = time.monotonic()
        cached = self._by_id.get(url_id)
        if cached is not None and now - cached[0] < LOOKUP_CACHE_S:
            return cached[1]

        def read(conn: Connection) -> UrlConfig | None:
            row = conn.execute("SELECT * FROM function_urls WHERE url_id = ?", (url_id,)).fetchone()
            return None if row is None else _decode(row)

        found = await self.db.run(read)
        if len(self._by_id) > 10_000:
            self._by_id.clear()
        self._by_id[url_id] = (now, found)
        return found
