"""AliasService: create, read, update, delete and list a function's aliases, with weighted routing checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from lambkin.functions import validation
from lambkin.functions.cache import ReadCache
from lambkin.functions.changes import new_revision
from lambkin.functions.errors import ResourceConflict, alias_not_found, not_found
from lambkin.functions.lookup import DEFAULT_PAGE, Lookup, check_revision
from lambkin.functions.model import Alias, Page
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.store import Connection, Store


class AliasService:
    """Aliases point at one version and optionally route a weighted share to one more."""

    def __init__(self, db: Store, arns: Arns, cache: ReadCache | None = None) -> None:
        self.db = db
        self.cache = cache or ReadCache()
        self.arns = arns
        self.repo = FunctionRepository()
        self.lookup = Lookup(arns, self.repo)

    def _check_versions(
        self, conn: Connection, name: str, version: str, weights: Mapping[str, float]
    ) -> None:
        for each in (version, *weights):
            if self.repo.version(conn, name, each) is None:
                raise not_found(self.arns.qualified(name, each))

    async def create(
        self, ref: FunctionRef, alias: str, version: str, description: str, weights: Mapping[str, float]
    ) -> Alias:
        checked = validation.check_weights(version, weights)

        def write(conn: Connection) -> Alias:
            self.lookup.record(conn, ref.name)
            self._check_versions(conn, ref.name, version, checked)
            arn = self.arns.qualified(ref.name, alias)
            if self.repo.alias(conn, ref.name, alias) is not None:
                raise ResourceConflict(f"Alias already exists: {arn}")
            created = Alias(
                function_name=ref.name,
                name=alias,
                alias_arn=arn,
                function_version=version,
                description=description,
                additional_weights=MappingProxyType(checked),
                revision_id=new_revision(),
            )
            self.repo.put_alias(conn, created)
            return created

        return await self.cache.write(self.db, ref.name, write)

    async def get(self, ref: FunctionRef, alias: str) -> Alias:
        def read(conn: Connection) -> Alias:
            self.lookup.record(conn, ref.name)
            found = self.repo.alias(conn, ref.name, alias)
            if found is None:
                raise alias_not_found(self.arns.qualified(ref.name, alias))
            return found

        return await self.db.run(read)

    async def update(
        self,
        ref: FunctionRef,
        alias: str,
        version: str | None,
        description: str | None,
        weights: Mapping[str, float] | None,
        revision_id: str | None,
    ) -> Alias:
        def write(conn: Connection) -> Alias:
            self.lookup.record(conn, ref.name)
            current = self.repo.alias(conn, ref.name, alias)
            if current is None:
                raise alias_not_found(self.arns.qualified(ref.name, alias))
            check_revision(revision_id, current.revision_id)
            target = version or current.function_version
            routing = dict(current.additional_weights) if weights is None else dict(weights)
            checked = validation.check_weights(target, routing)
            self._check_versions(conn, ref.name, target, checked)
            updated = dataclasses.replace(
                current,
                function_version=target,
                description=current.description if description is None else description,
                additional_weights=MappingProxyType(checked),
                revision_id=new_revision(),
            )
            self.repo.put_alias(conn, updated)
            return updated

        return await self.cache.write(self.db, ref.name, write)

    async def delete(self, ref: FunctionRef, alias: str) -> None:
        def write(conn: Connection) -> None:
            self.lookup.record(conn, ref.name)
            self.repo.delete_alias(conn, ref.name, alias)

        await self.cache.write(self.db, ref.name, write)

    async def list(
        self, ref: FunctionRef, version: str | None, marker: str | None, max_items: int | None
    ) -> Page[Alias]:
        limit = max_items or DEFAULT_PAGE

        def read(conn: Connection) -> list[Alias]:
            self.lookup.record(conn, ref.name)
            return self.repo.aliases_of(conn, ref.name)

        aliases = [
            a
            for a in await self.db.run(read)
            if (version is None or a.function_version == version) and (not marker or a.name > marker)
        ]
        if len(aliases) <= limit:
            return Page(tuple(aliases))
        return Page(tuple(aliases[:limit]), aliases[limit - 1].name)
