"""AccountService: reserved concurrency against the account limit, tags, and GetAccountSettings figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lambkin.functions.cache import ReadCache
from lambkin.functions.errors import InvalidParameterValue
from lambkin.functions.lookup import Lookup
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.store import Connection, Store

UNRESERVED_MINIMUM = 100
TOTAL_CODE_SIZE = 80_530_636_800
CODE_SIZE_UNZIPPED = 262_144_000
CODE_SIZE_ZIPPED = 52_428_800


@dataclass(frozen=True)
class AccountSettings:
    """The AccountLimit and AccountUsage members of GetAccountSettings."""

    concurrent_executions: int
    unreserved_concurrent_executions: int
    function_count: int
    total_code_size_used: int


def check_reservation(
    requested: int, limit: int, reserved_by_others: int, setting: str = "ReservedConcurrentExecutions"
) -> int:
    """`requested` if the account keeps at least UNRESERVED_MINIMUM unreserved after it; `setting` names
    what is being set in the error (reserved, or provisioned concurrency taken from the unreserved pool)."""
    if limit - reserved_by_others - requested < UNRESERVED_MINIMUM:
        raise InvalidParameterValue(
            f"Specified {setting} for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
        )
    return requested


class AccountService:
    """Function-wide settings that are not configuration: reserved concurrency and tags."""

    def __init__(
        self, db: Store, arns: Arns, concurrency_limit: int = 1000, cache: ReadCache | None = None
    ) -> None:
        self.db = db
        self.cache = cache or ReadCache()
        self.arns = arns
        self.concurrency_limit = concurrency_limit
        self.repo = FunctionRepository()
        self.lookup = Lookup(arns, self.repo)

    async def put_concurrency(self, ref: FunctionRef, reserved: int) -> int:
        def write(conn: Connection) -> int:
            record = self.lookup.record(conn, ref.name)
            others = self.repo.reserved_total(conn, excluding=ref.name)
            check_reservation(reserved, self.concurrency_limit, others)
            self.repo.put_record(conn, dataclasses.replace(record, reserved_concurrency=reserved))
            return reserved

        return await self.cache.write(self.db, ref.name, write)

    async def get_concurrency(self, ref: FunctionRef) -> int | None:
        def read(conn: Connection) -> int | None:
            return self.lookup.record(conn, ref.name).reserved_concurrency

        return await self.db.run(read)

    async def delete_concurrency(self, ref: FunctionRef) -> None:
        def write(conn: Connection) -> None:
            record = self.lookup.record(conn, ref.name)
            self.repo.put_record(conn, dataclasses.replace(record, reserved_concurrency=None))

        await self.cache.write(self.db, ref.name, write)

    async def settings(self) -> AccountSettings:
        def read(conn: Connection) -> AccountSettings:
            count, size = self.repo.usage(conn)
            reserved = self.repo.reserved_total(conn)
            return AccountSettings(self.concurrency_limit, self.concurrency_limit - reserved, count, size)

        return await self.db.run(read)

    async def tag(self, resource: str, tags: Mapping[str, str]) -> None:
        name = self.arns.parse_resource(resource)

        def write(conn: Connection) -> None:
            record = self.lookup.record(conn, name)
            merged = MappingProxyType({**record.tags, **tags})
            self.repo.put_record(conn, dataclasses.replace(record, tags=merged))

        await self.cache.write(self.db, name, write)

    async def untag(self, resource: str, keys: Iterable[str]) -> None:
        name = self.arns.parse_resource(resource)
        drop = set(keys)

        def write(conn: Connection) -> None:
            record = self.lookup.record(conn, name)
            kept = MappingProxyType({k: v for k, v in record.tags.items() if k not in drop})
            self.repo.put_record(conn, dataclasses.replace(record, tags=kept))

        await self.cache.write(self.db, name, write)

    async def tags(self, resource: str) -> Mapping[str, str]:
        name = self.arns.parse_resource(resource)

        def read(conn: Connection) -> Mapping[str, str]:
            return self.lookup.record(conn, name).tags

        return await self.db.run(read)
