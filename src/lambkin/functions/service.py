"""FunctionService: the Lambda control plane's function and version operations, one transaction each."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

from lambkin.functions import changes, validation
from lambkin.functions.cache import ALL, ReadCache
from lambkin.functions.delivery import Delivery
from lambkin.functions.errors import (
    InvalidParameterValue,
    ResourceConflict,
    not_found,
    not_invocable,
    update_in_progress,
)
from lambkin.functions.lookup import DEFAULT_PAGE, Lookup, check_revision, decode_marker, encode_marker
from lambkin.functions.model import LATEST, Alias, FunctionRecord, FunctionVersion, Page, ZipCode
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.functions.states import State, is_settled
from lambkin.network.vpc import EMPTY, Catalog
from lambkin.store import Connection, Store

Submit = Callable[[str, str], None]
RoleCheck = Callable[[str], bool]
"""Whether Lambda may assume the role with this ARN: it exists and its trust policy lets
lambda.amazonaws.com assume it (identity answers; the composition root passes it in)."""

ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


class FunctionService:
    """Create, read, update, delete and publish functions (`invoke/targets.py` resolves them for invokes)."""

    def __init__(
        self,
        db: Store,
        arns: Arns,
        submit: Submit,
        *,
        role_check: RoleCheck,
        host_architecture: str,
        clock: Callable[[], float] = time.time,
        cache: ReadCache | None = None,
        delivery: Delivery | None = None,
        vpcs: Catalog = EMPTY,
    ) -> None:
        self.db = db
        self.cache = cache or ReadCache()
        self.arns = arns
        self.repo = FunctionRepository()
        self.lookup = Lookup(arns, self.repo)
        self._submit = submit
        self._role_check = role_check
        self._delivery = delivery
        self._host_architecture = host_architecture
        self._clock = clock
        self._vpcs = vpcs

    async def create(
        self,
        name: str,
        role: str,
        image_uri: str,
        change: changes.ConfigChange,
        *,
        architectures: tuple[str, ...] | None = None,
        tags: Mapping[str, str] | None = None,
        publish: bool = False,
        zip_code: ZipCode | None = None,
    ) -> FunctionVersion:
        """A new function of `image_uri`, or of `zip_code` (its composed image) for a zip function."""
        if zip_code is None:
            validation.check_image_uri(image_uri)
        arch = validation.check_architectures(architectures or ("x86_64",), self._host_architecture)
        self._check_role(role)
        self._check_dead_letter(role, name, change.dead_letter_target_arn)
        change = self._check_vpc(change)
        blank = FunctionVersion(
            name=name,
            function_arn=self.arns.function(name),
            version=LATEST,
            role=role,
            image_uri=image_uri,
            architectures=arch,
            state=State.PENDING,
            state_reason="The function is being created.",
            state_reason_code="Creating",
        )
        if zip_code is not None:
            blank = dataclasses.replace(blank, image_uri=zip_code.image_uri, **zip_code.fields())  # type: ignore[arg-type]
        latest = changes.apply_change(blank, change, self._clock())

        def write(conn: Connection) -> FunctionVersion:
            if self.repo.record(conn, name) is not None:
                raise ResourceConflict(f"Function already exist: {name}")
            record = FunctionRecord(name=name, tags=MappingProxyType(dict(tags or {})))
            self.repo.put_record(conn, record)
            self.repo.put_version(conn, latest)
            if not publish:
                return latest
            first = changes.published(latest, record, None, self._clock())
            self.repo.put_version(conn, first)
            self.repo.put_record(conn, dataclasses.replace(record, last_version=1))
            return first

        created = await self.cache.write(self.db, name, write)
        self._submit(name, LATEST)
        return created

    async def get(self, ref: FunctionRef) -> tuple[FunctionVersion, Alias | None, FunctionRecord]:
        key = ref.qualifier or LATEST
        cached: tuple[FunctionVersion, Alias | None, FunctionRecord] | None = self.cache.get(ref.name, key)
        if cached is not None:
            return cached
        generation = self.cache.generation(ref.name)

        def read(conn: Connection) -> tuple[FunctionVersion, Alias | None, FunctionRecord]:
            version, alias = self.lookup.qualified(conn, ref)
            return version, alias, self.lookup.record(conn, ref.name)

        found = await self.db.run(read)
        self.cache.put(ref.name, key, found, generation)
        return found

    async def list(
        self, marker: str | None, max_items: int | None, all_versions: bool
    ) -> Page[FunctionVersion]:
        after = decode_marker(marker)
        limit = max_items or DEFAULT_PAGE
        key = ("list", after, limit, all_versions)
        cached: Page[FunctionVersion] | None = self.cache.get(ALL, key)
        if cached is not None:
            return cached
        generation = self.cache.generation(ALL)

        def read(conn: Connection) -> list[FunctionVersion]:
            return self.repo.listing(conn, after, limit + 1, all_versions)

        rows = await self.db.run(read)
        page = Page.of(rows, limit, lambda last: encode_marker(last.name, _number(last.version)))
        # The page reads the functions from the marker's to the one past its end (whether a next page follows)
        span = (after[0] if after else "", rows[limit].name if len(rows) > limit else None)
        self.cache.put(ALL, key, page, generation, span)
        return page

    async def list_versions(
        self, ref: FunctionRef, marker: str | None, max_items: int | None
    ) -> Page[FunctionVersion]:
        after = decode_marker(marker)
        limit = max_items or DEFAULT_PAGE

        def read(conn: Connection) -> list[FunctionVersion]:
            self.lookup.record(conn, ref.name)
            return self.repo.versions_of(conn, ref.name, after[1] if after else -1, limit + 1)

        rows = await self.db.run(read)
        return Page.of(rows, limit, lambda last: encode_marker(last.name, _number(last.version)))

    async def update_configuration(
        self, ref: FunctionRef, change: changes.ConfigChange, revision_id: str | None
    ) -> FunctionVersion:
        if change.role is not None:
            self._check_role(change.role)
        change = self._check_vpc(change)
        if self._delivery is not None and (change.role is not None or change.dead_letter_target_arn):
            # The role and the queue as they will be: a new role must reach the function's queue too.
            current, _, _ = await self.get(FunctionRef(ref.name, LATEST))
            target = change.dead_letter_target_arn
            self._check_dead_letter(
                change.role or current.role,
                ref.name,
                current.dead_letter_target_arn if target is None else target,
            )

        def write(conn: Connection) -> FunctionVersion:
            latest = self._settled_latest(conn, ref.name)
            check_revision(revision_id, latest.revision_id)
            updated = changes.apply_change(latest, change, self._clock())
            self.repo.put_version(conn, updated)
            return updated

        return await self.cache.write(self.db, ref.name, write)

    async def update_code(
        self,
        ref: FunctionRef,
        image_uri: str,
        *,
        publish: bool = False,
        revision_id: str | None = None,
        architectures: tuple[str, ...] | None = None,
        dry_run: bool = False,
        zip_code: ZipCode | None = None,
    ) -> FunctionVersion:
        if zip_code is None:
            validation.check_image_uri(image_uri)
        if architectures is not None:
            validation.check_architectures(architectures, self._host_architecture)

        def write(conn: Connection) -> FunctionVersion:
            latest = self._settled_latest(conn, ref.name)
            check_revision(revision_id, latest.revision_id)
            if latest.is_zip != (zip_code is not None):
                raise InvalidParameterValue(
                    "Please provide ImageUri when updating a function with packageType Image."
                    if zip_code is not None
                    else "Please don't provide ImageUri when updating a function with packageType Zip."
                )
            updated = changes.start_code_update(latest, image_uri, self._clock(), zip_code)
            if dry_run:
                return updated
            self.repo.put_version(conn, updated)
            if publish:
                record = self.lookup.record(conn, ref.name)
                self.repo.put_record(conn, dataclasses.replace(record, publish_after_update=True))
            return updated

        updated = await self.cache.write(self.db, ref.name, write)
        if not dry_run:
            self._submit(ref.name, LATEST)
        return updated

    async def publish(
        self, ref: FunctionRef, code_sha256: str | None, description: str | None, revision_id: str | None
    ) -> FunctionVersion:
        def write(conn: Connection) -> FunctionVersion:
            latest = self._settled_latest(conn, ref.name)
            if latest.state is State.FAILED:
                raise not_invocable(latest.state.value)
            check_revision(revision_id, latest.revision_id)
            if code_sha256 and code_sha256 != latest.code_sha256:
                raise InvalidParameterValue(
                    f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                    f"({latest.code_sha256}). Please try again"
                )
            return self.publish_in(conn, latest, description)

        return await self.cache.write(self.db, ref.name, write)

    def publish_in(
        self, conn: Connection, latest: FunctionVersion, description: str | None
    ) -> FunctionVersion:
        """Publishes $LATEST inside a transaction, unless the newest version already has its code and config."""
        record = self.lookup.record(conn, latest.name)
        if record.last_version:
            newest = self.repo.version(conn, latest.name, str(record.last_version))
            if newest is not None and newest.publishable_fingerprint() == latest.publishable_fingerprint():
                return newest
        version = changes.published(latest, record, description, self._clock())
        self.repo.put_version(conn, version)
        self.repo.put_record(conn, dataclasses.replace(record, last_version=record.last_version + 1))
        return version

    async def version_keys(self) -> set[tuple[str, str]]:
        """Every (function name, version) stored: what metrics keep series of."""
        return await self.db.run(self.repo.version_keys)

    async def delete(self, ref: FunctionRef) -> None:
        def write(conn: Connection) -> None:
            self.lookup.record(conn, ref.name)
            if ref.qualifier is None:
                self.repo.delete_function(conn, ref.name)
                return
            if ref.qualifier == LATEST:
                raise InvalidParameterValue(
                    "$LATEST version cannot be deleted without deleting the function."
                )
            if not ref.qualifier.isdigit():
                raise InvalidParameterValue(
                    "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias."
                )
            if self.repo.version(conn, ref.name, ref.qualifier) is None:
                raise not_found(self.arns.of(ref))
            using = [a.name for a in self.repo.aliases_of(conn, ref.name) if _routes_to(a, ref.qualifier)]
            if using:
                raise ResourceConflict(
                    f"Unable to delete version because the following aliases reference it: [{', '.join(using)}]"
                )
            self.repo.delete_version(conn, ref.name, ref.qualifier)

        await self.cache.write(self.db, ref.name, write)

    def _check_role(self, role: str) -> None:
        if not self._role_check(role):
            raise InvalidParameterValue(ROLE_NOT_ASSUMABLE)

    def _check_vpc(self, change: changes.ConfigChange) -> changes.ConfigChange:
        """The change with its VpcConfig checked against the operator's VPCs (and its VpcId found)."""
        if change.vpc is None:
            return change
        return dataclasses.replace(change, vpc=validation.check_vpc(change.vpc, self._vpcs))

    def _check_dead_letter(self, role: str, name: str, target: str | None) -> None:
        """The role must be allowed to send to the dead-letter queue (without `delivery`: not checked)."""
        if self._delivery is not None and target:
            self._delivery.check_dead_letter(role, name, target)

    def _settled_latest(self, conn: Connection, name: str) -> FunctionVersion:
        latest = self.lookup.latest(conn, name)
        if not is_settled(latest.state, latest.last_update_status):
            raise update_in_progress(latest.function_arn)
        return latest


def _number(version: str) -> int:
    return 0 if version == LATEST else int(version)


def _routes_to(alias: Alias, version: str) -> bool:
    return alias.function_version == version or version in alias.additional_weights
