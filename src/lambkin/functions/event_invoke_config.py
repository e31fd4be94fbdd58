"""EventInvokeConfig: per function and qualifier, the async retry limits and destinations, validated and stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from lambkin.functions.delivery import Delivery
from lambkin.functions.errors import FunctionNotFound, InvalidParameterValue
from lambkin.functions.lookup import DEFAULT_PAGE
from lambkin.functions.model import LATEST
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.service import FunctionService
from lambkin.store import Connection, Migration, Store

MIGRATIONS = [
    Migration(
        "event_invoke_config",
        1,
        """
        CREATE TABLE event_invoke_configs (
            function TEXT NOT NULL,
            qualifier TEXT NOT NULL,
            config TEXT NOT NULL,
            PRIMARY KEY (function, qualifier)
        )
        """,
    ),
    # A namespace that sorts after "functions": the table moves under a foreign key, so deleting a function
    # deletes its configs (a function created again under that name starts with none, as in Lambda).
    Migration(
        "functions_event_invoke_config",
        1,
        """
        CREATE TABLE function_event_invoke_configs (
            function TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            qualifier TEXT NOT NULL,
            config TEXT NOT NULL,
            PRIMARY KEY (function, qualifier)
        );
        INSERT INTO function_event_invoke_configs (function, qualifier, config)
            SELECT function, qualifier, config FROM event_invoke_configs
            WHERE function IN (SELECT name FROM functions);
        DROP TABLE event_invoke_configs
        """,
    ),
]

_REFUSED = {"sns": "SNS topics", "events": "EventBridge event buses", "s3": "S3 buckets"}


@dataclass(frozen=True)
class EventInvokeConfig:
    """One function's (or version's, or alias's) async settings; None means Lambda's default."""

    function: str
    qualifier: str
    last_modified: float
    max_retries: int | None = None
    max_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None

    def encode(self) -> str:
        return json.dumps(
            {
                "last_modified": self.last_modified,
                "max_retries": self.max_retries,
                "max_age_s": self.max_age_s,
                "on_success": self.on_success,
                "on_failure": self.on_failure,
            }
        )

    @staticmethod
    def decode(function: str, qualifier: str, text: str) -> EventInvokeConfig:
        return EventInvokeConfig(function, qualifier, **json.loads(text))


def check_destination(arn: str | None, own_arn: str) -> None:
    """Lambda functions and lambkin's SQS queues are served; other targets are refused when configured."""
    if arn is None:
        return
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")
    service = parts[2]
    if service in _REFUSED:
        raise InvalidParameterValue(
            f"The destination ARN {arn} is not supported: lambkin delivers to SQS queues and Lambda "
            f"functions, not to {_REFUSED[service]}."
        )
    if service == "sqs" and len(parts) == 6 and parts[5]:
        return
    if service == "lambda" and len(parts) in (7, 8) and parts[5] == "function":
        if ":".join(parts[:7]) == own_arn:
            raise InvalidParameterValue("You can't specify the function as a destination for itself.")
        return
    raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")


class EventInvokeConfigService:
    """Put, Update, Get, Delete and List; `effective()` is the dispatcher's cached read. With `delivery`, the
    function's role (that of the version the config applies to) must be allowed to reach each destination."""

    def __init__(
        self,
        db: Store,
        arns: Arns,
        functions: FunctionService,
        clock: Callable[[], float] = time.time,
        delivery: Delivery | None = None,
    ) -> None:
        self.db = db
        self.arns = arns
        self.functions = functions
        self.clock = clock
        self.delivery = delivery
        # The functions' ReadCache: any write of the function (its deletion too), on this node or another,
        # drops what is kept here.
        self._cache = functions.cache

    async def _target(self, raw_name: str, qualifier: str | None) -> tuple[FunctionRef, str]:
        """The function and qualifier (unqualified = $LATEST), which must exist, and the role it runs with."""
        ref = self.arns.parse(raw_name, qualifier)
        version, _, _ = await self.functions.get(ref)
        return FunctionRef(ref.name, ref.qualifier or LATEST), version.role

    async def put(
        self,
        raw_name: str,
        qualifier: str | None,
        max_retries: int | None,
        max_age_s: int | None,
        destinations: dict[str, str | None] | None,
        *,
        patch: bool = False,
    ) -> EventInvokeConfig:
        """Put replaces every field; Update (`patch`) changes only the fields given."""
        ref, role = await self._target(raw_name, qualifier)
        assert ref.qualifier is not None
        if max_retries is None and max_age_s is None and destinations is None:
            raise InvalidParameterValue(
                "You must specify at least one of error handling or destination setting."
            )
        own = self.arns.function(ref.name)
        dests = destinations or {}
        for arn in dests.values():
            check_destination(arn, own)
        for arn in dests.values():
            if arn is not None and self.delivery is not None:
                self.delivery.check_destination(role, ref.name, arn)
        now = self.clock()
        if patch:
            base = await self.get(raw_name, qualifier)
            config = replace(
                base,
                last_modified=now,
                max_retries=base.max_retries if max_retries is None else max_retries,
                max_age_s=base.max_age_s if max_age_s is None else max_age_s,
                on_success=dests.get("OnSuccess", base.on_success),
                on_failure=dests.get("OnFailure", base.on_failure),
            )
        else:
            config = EventInvokeConfig(
                ref.name,
                ref.qualifier,
                now,
                max_retries,
                max_age_s,
                dests.get("OnSuccess"),
                dests.get("OnFailure"),
            )
        await self._cache.write(
            self.db,
            config.function,
            lambda conn: conn.execute(
                "INSERT INTO function_event_invoke_configs (function, qualifier, config) VALUES (?, ?, ?)"
                " ON CONFLICT (function, qualifier) DO UPDATE SET config = excluded.config",
                (config.function, config.qualifier, config.encode()),
            ),
        )
        return config

    async def get(self, raw_name: str, qualifier: str | None) -> EventInvokeConfig:
        ref, _ = await self._target(raw_name, qualifier)
        assert ref.qualifier is not None
        found = await self._read(ref.name, ref.qualifier)
        if found is None:
            raise FunctionNotFound(
                f"The function {self.arns.qualified(ref.name, ref.qualifier)} doesn't have an EventInvokeConfig"
            )
        return found

    async def delete(self, raw_name: str, qualifier: str | None) -> None:
        config = await self.get(raw_name, qualifier)
        await self._cache.write(
            self.db,
            config.function,
            lambda conn: conn.execute(
                "DELETE FROM function_event_invoke_configs WHERE function = ? AND qualifier = ?",
                (config.function, config.qualifier),
            ),
        )

    async def list(
        self, raw_name: str, marker: str | None, max_items: int | None
    ) -> tuple[list[EventInvokeConfig], str | None]:
        ref = self.arns.parse(raw_name, None, qualified=False)
        await self.functions.get(ref)
        limit = max_items or DEFAULT_PAGE

        def read(conn: Connection) -> list[EventInvokeConfig]:
            rows = conn.execute(
                "SELECT qualifier, config FROM function_event_invoke_configs WHERE function = ? AND qualifier > ?"
                f" ORDER BY qualifier LIMIT {int(limit) + 1}",
                (ref.name, marker or ""),
            ).fetchall()
            return [EventInvokeConfig.decode(ref.name, r[0], r[1]) for r in rows]

        rows = await self.db.run(read)
        if len(rows) <= limit:
            return rows, None
        return rows[:limit], rows[limit - 1].qualifier

    async def effective(self, function: str, qualifier: str | None) -> EventInvokeConfig | None:
        """The config an async event of `function:qualifier` runs under (None: Lambda's defaults)."""
        return await self._read(function, qualifier or LATEST)

    async def _read(self, function: str, qualifier: str) -> EventInvokeConfig | None:
        key = ("event-invoke-config", qualifier)
        cached: tuple[EventInvokeConfig | None] | None = self._cache.get(function, key)
        if cached is not None:
            return cached[0]
        generation = self._cache.generation(function)

        def read(conn: Connection) -> EventInvokeConfig | None:
            row = conn.execute(
                "SELECT config FROM function_event_invoke_configs WHERE function = ? AND qualifier = ?",
                (function, qualifier),
            ).fetchone()
            return None if row is None else EventInvokeConfig.decode(function, qualifier, row[0])

        found = await self.db.run(read)
        self._cache.put(function, key, (found,), generation)
        return found
