"""LayerService: Lambda layers (publish, read, list, delete versions; their permissions), and the contents
zip functions take from them. A layer's package is stored as functions' are, its files under /opt."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from lambkin.functions.changes import timestamp
from lambkin.functions.errors import (
    FunctionNotFound,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
)
from lambkin.functions.layer_store import LayerPolicy, LayerRepository, LayerVersion
from lambkin.functions.lookup import DEFAULT_PAGE, decode_marker, encode_marker
from lambkin.functions.model import Page
from lambkin.functions.names import Arns
from lambkin.functions.zip_code import LayerContent, check_zipped_size, code_sha256, rejected
from lambkin.runtimes.packages import PackageRejected
from lambkin.runtimes.zip_images import OPT, PackageImages
from lambkin.store import Connection, Store

NO_RESOURCE = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,140}")
_LAYER_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):([0-9]{12}):layer:([a-zA-Z0-9_-]+)(?::([0-9]+))?"
)


class LayerService:
    """The layer operations, one transaction each (packages are stored before it)."""

    def __init__(
        self,
        db: Store,
        arns: Arns,
        packages: PackageImages,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.arns = arns
        self.packages = packages
        self.repo = LayerRepository()
        self._clock = clock

    def layer_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.arns.region}:{self.arns.account_id}:layer:{name}"

    def version_arn(self, name: str, version: int) -> str:
        return f"{self.layer_arn(name)}:{version}"

    def name_of(self, raw: str) -> str:
        """The layer a LayerName member names (its name, or its ARN)."""
        if _NAME.fullmatch(raw):
            return raw
        found = _LAYER_ARN.fullmatch(raw)
        if found is None or found.group(4) is not None or not self._ours(found):
            raise InvalidParameterValue(f"Invalid layer name: {raw}")
        return found.group(3)

    def _ours(self, found: re.Match[str]) -> bool:
        return (found.group(1), found.group(2)) == (self.arns.region, self.arns.account_id)

    def parse_version_arn(self, arn: str) -> tuple[str, int] | None:
        found = _LAYER_ARN.fullmatch(arn)
        if found is None or found.group(4) is None or not self._ours(found):
            return None
        return found.group(3), int(found.group(4))

    async def publish(
        self,
        raw_name: str,
        data: bytes,
        description: str = "",
        runtimes: Sequence[str] = (),
        architectures: Sequence[str] = (),
        license_info: str | None = None,
    ) -> LayerVersion:
        name = self.name_of(raw_name)
        check_zipped_size(data)
        try:
            stored = await self.packages.store(data, OPT)
        except PackageRejected as exc:
            raise rejected(exc) from exc

        def write(conn: Connection) -> LayerVersion:
            version = LayerVersion(
                name=name,
                version=self.repo.next_version(conn, name),
                created=timestamp(self._clock()),
                code_sha256=code_sha256(stored.sha256_hex),
                code_size=stored.size,
                package_digest=stored.zip_digest,
                layer_digest=stored.layer_digest,
                layer_size=stored.layer_size,
                unzipped_size=stored.unzipped_size,
                description=description,
                compatible_runtimes=tuple(runtimes),
                compatible_architectures=tuple(architectures),
                license_info=license_info,
            )
            self.repo.put(conn, version)
            return version

        return await self.db.run(write)

    async def get(self, raw_name: str, number: int) -> LayerVersion:
        name = self.name_of(raw_name)
        found = await self.db.run(lambda conn: self.repo.get(conn, name, number))
        if found is None:
            raise FunctionNotFound(NO_RESOURCE)
        return found

    async def get_by_arn(self, arn: str) -> LayerVersion:
        parsed = self.parse_version_arn(arn)
        if parsed is None:
            raise FunctionNotFound(NO_RESOURCE)
        return await self.get(*parsed)

    async def delete(self, raw_name: str, number: int) -> None:
        """Deletes a version (nothing if it is gone already); functions using it keep their copy."""
        name = self.name_of(raw_name)
        await self.db.run(lambda conn: self.repo.delete(conn, name, number))

    async def list_versions(
        self,
        raw_name: str,
        runtime: str | None,
        architecture: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> Page[LayerVersion]:
        name = self.name_of(raw_name)
        after = decode_marker(marker)
        rows = await self.db.run(lambda conn: self.repo.versions(conn, name))
        matching = [
            v for v in rows if _matches(v, runtime, architecture) and (after is None or v.version < after[1])
        ]
        return Page.of(
            matching, max_items or DEFAULT_PAGE, lambda last: encode_marker(last.name, last.version)
        )

    async def list_layers(
        self, runtime: str | None, architecture: str | None, marker: str | None, max_items: int | None
    ) -> Page[LayerVersion]:
        """Each layer's newest version matching the filters, by layer name."""
        after = decode_marker(marker)
        rows = await self.db.run(self.repo.all_versions)
        latest: dict[str, LayerVersion] = {}
        for version in rows:
            if version.name not in latest and _matches(version, runtime, architecture):
                latest[version.name] = version
        matching = [v for name, v in latest.items() if after is None or name > after[0]]
        return Page.of(matching, max_items or DEFAULT_PAGE, lambda last: encode_marker(last.name, 0))

    async def add_permission(
        self,
        raw_name: str,
        number: int,
        statement_id: str,
        principal: str,
        organization_id: str | None,
        revision_id: str | None,
    ) -> tuple[dict[str, Any], str]:
        """Grants lambda:GetLayerVersion; returns the statement and the policy's new RevisionId."""
        name = self.name_of(raw_name)
        resource = self.version_arn(name, number)
        statement: dict[str, Any] = {
            "Sid": statement_id,
            "Effect": "Allow",
            "Principal": "*" if principal == "*" else {"AWS": _principal_arn(principal)},
            "Action": "lambda:GetLayerVersion",
            "Resource": resource,
        }
        if organization_id:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}

        def write(conn: Connection) -> str:
            policy = self._policy(conn, name, number, revision_id)
            if any(s["Sid"] == statement_id for s in policy.statements):
                raise ResourceConflict(
                    f"The statement id ({statement_id}) provided already exists. Please provide a new statement "
                    "id, or remove the existing statement."
                )
            revision = str(uuid.uuid4())
            self.repo.put_policy(conn, name, number, LayerPolicy((*policy.statements, statement), revision))
            return revision

        return statement, await self.db.run(write)

    async def remove_permission(
        self, raw_name: str, number: int, statement_id: str, revision_id: str | None
    ) -> None:
        name = self.name_of(raw_name)

        def write(conn: Connection) -> None:
            policy = self._policy(conn, name, number, revision_id)
            kept = tuple(s for s in policy.statements if s["Sid"] != statement_id)
            if len(kept) == len(policy.statements):
                raise FunctionNotFound(f"Statement {statement_id} is not found in resource policy.")
            self.repo.put_policy(conn, name, number, LayerPolicy(kept, str(uuid.uuid4())))

        await self.db.run(write)

    async def policy(self, raw_name: str, number: int) -> tuple[str, str]:
        """The version's policy document and RevisionId."""
        name = self.name_of(raw_name)

        def read(conn: Connection) -> tuple[str | None, str]:
            if self.repo.get(conn, name, number) is None:
                raise FunctionNotFound(NO_RESOURCE)
            return self.repo.policy_text(conn, name, number), self.repo.policy(conn, name, number).revision_id

        text, revision = await self.db.run(read)
        if text is None:
            raise FunctionNotFound(NO_POLICY)
        return text, revision

    def _policy(self, conn: Connection, name: str, number: int, revision_id: str | None) -> LayerPolicy:
        if self.repo.get(conn, name, number) is None:
            raise FunctionNotFound(NO_RESOURCE)
        policy = self.repo.policy(conn, name, number)
        if revision_id and revision_id != policy.revision_id:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetLayerPolicy API to retrieve the latest Revision Id"
            )
        return policy

    async def contents(self, arns: Sequence[str]) -> list[LayerContent]:
        """The layer versions a function names, in order (LayerLookup); an unknown one is refused as Lambda does."""

        def read(conn: Connection) -> list[LayerContent]:
            out: list[LayerContent] = []
            for arn in arns:
                parsed = self.parse_version_arn(arn)
                found = None if parsed is None else self.repo.get(conn, *parsed)
                if found is None:
                    raise InvalidParameterValue(f"Layer version {arn} does not exist.")
                out.append(
                    LayerContent(
                        arn, found.code_size, found.layer_digest, found.layer_size, found.unzipped_size
                    )
                )
            return out

        return await self.db.run(read)


def _matches(version: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    return (runtime is None or runtime in version.compatible_runtimes) and (
        architecture is None or architecture in version.compatible_architectures
    )


def _principal_arn(principal: str) -> str:
    return f"arn:aws:iam::{principal}:root" if principal.isdigit() else principal
