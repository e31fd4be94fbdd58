"""Managed policies and their versions: the account's own (created, versioned, deleted) and AWS's (read
only, identity/managed.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from lambkin.identity import iam_errors as errors
from lambkin.identity.iam import Change, Iam, page
from lambkin.identity.iam_attachments import check_policy_arn
from lambkin.identity.iam_model import ManagedPolicy, PolicyVersion, arn, unique_id
from lambkin.identity.iam_roles import check_tags

MAX_VERSIONS = 5
MAX_SIZE = 6_144  # characters of a managed policy's document, white space not counted
Scope = Literal["All", "AWS", "Local"]


class Policies:
    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    async def create(
        self,
        name: str,
        document: str,
        *,
        path: str = "/",
        description: str = "",
        tags: Sequence[tuple[str, str]] = (),
    ) -> ManagedPolicy:
        self._check(document)
        check_tags(tags)
        async with self.iam.lock:
            if any(p.name.lower() == name.lower() for p in self.iam.policies.values()):
                raise errors.EntityAlreadyExists(
                    f"A policy called {name} already exists. Duplicate names are not allowed."
                )
            now = self.iam.now()
            policy = ManagedPolicy(
                name=name,
                path=path,
                policy_id=unique_id("ANPA"),
                arn=arn(self.iam.account_id, "policy", path, name),
                created=now,
                updated=now,
                default_version="v1",
                versions=(PolicyVersion("v1", document, now),),
                description=description,
                tags=tuple(tags),
            )
            await self.iam.commit(Change(policies=[policy]))
        return policy

    def get(self, policy_arn: str) -> ManagedPolicy:
        check_policy_arn(policy_arn)
        found = self.iam.policy(policy_arn)
        if found is None:
            raise errors.no_policy(policy_arn)
        return found

    def listing(
        self,
        scope: Scope,
        only_attached: bool,
        path_prefix: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[list[ManagedPolicy], str | None]:
        chosen: list[ManagedPolicy] = []
        if scope in ("All", "Local"):
            chosen += self.iam.policies.values()
        if scope in ("All", "AWS"):
            chosen += self.iam.aws_policies.values()
        chosen = [p for p in chosen if p.path.startswith(path_prefix or "/")]
        if only_attached:
            chosen = [p for p in chosen if self.iam.attachment_count(p.arn)]
        return page(chosen, lambda p: p.name.lower(), marker, max_items)

    async def delete(self, policy_arn: str) -> None:
        async with self.iam.lock:
            policy = await self._own(policy_arn, everything=True)  # its attachments: another node's too
            if self.iam.attachment_count(policy.arn) or self.iam.boundary_count(policy.arn):
                raise errors.DeleteConflict("Cannot delete a policy attached to entities.")
            if len(policy.versions) > 1:
                raise errors.DeleteConflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the "
                    "policy's versions. The default version is deleted with the policy."
                )
            await self.iam.commit(Change(drop_policies=[policy.arn]))

    async def create_version(self, policy_arn: str, document: str, set_as_default: bool) -> PolicyVersion:
        self._check(document)
        async with self.iam.lock:
            policy = await self._own(policy_arn)
            if len(policy.versions) >= MAX_VERSIONS:
                raise errors.LimitExceeded(
                    f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new "
                    "version, you must delete an existing version."
                )
            now = self.iam.now()
            version = PolicyVersion(f"v{policy.next_version}", document, now)
            changed = dataclasses.replace(
                policy,
                versions=(*policy.versions, version),
                next_version=policy.next_version + 1,
                default_version=version.version_id if set_as_default else policy.default_version,
                updated=now if set_as_default else policy.updated,
            )
            await self.iam.commit(Change(policies=[changed]))
        return version

    def get_version(self, policy_arn: str, version_id: str) -> tuple[ManagedPolicy, PolicyVersion]:
        policy = self.get(policy_arn)
        return policy, self._version(policy, version_id)

    def list_versions(
        self, policy_arn: str, marker: str | None, max_items: int | None
    ) -> tuple[ManagedPolicy, list[PolicyVersion], str | None]:
        policy = self.get(policy_arn)
        versions, next_marker = page(policy.versions, _newest_first, marker, max_items)
        return policy, versions, next_marker

    async def delete_version(self, policy_arn: str, version_id: str) -> None:
        async with self.iam.lock:
            policy = await self._own(policy_arn)
            self._version(policy, version_id)
            if version_id == policy.default_version:
                raise errors.DeleteConflict("Cannot delete the default version of a policy.")
            versions = tuple(v for v in policy.versions if v.version_id != version_id)
            await self.iam.commit(Change(policies=[dataclasses.replace(policy, versions=versions)]))

    async def set_default_version(self, policy_arn: str, version_id: str) -> None:
        async with self.iam.lock:
            policy = await self._own(policy_arn)
            self._version(policy, version_id)
            changed = dataclasses.replace(policy, default_version=version_id, updated=self.iam.now())
            await self.iam.commit(Change(policies=[changed]))

    async def _own(self, policy_arn: str, everything: bool = False) -> ManagedPolicy:
        """The customer managed policy a write changes, as stored now (another node may have changed it),
        read again alone or with `everything` else IAM holds; callers hold IAM's lock."""
        await self.iam.reread(None if everything else [f"policy:{policy_arn}"])
        policy = self.get(policy_arn)
        if policy.aws_managed:
            raise errors.UnmodifiableEntity(
                f"Policy {policy.arn} is an AWS managed policy: it cannot be changed or deleted."
            )
        return policy

    @staticmethod
    def _version(policy: ManagedPolicy, version_id: str) -> PolicyVersion:
        found = policy.version(version_id)
        if found is None:
            raise errors.NoSuchEntity(
                f"Policy {policy.arn} version {version_id} does not exist or is not attachable."
            )
        return found

    def _check(self, document: str) -> None:
        self.iam.check_document(document, "managed")
        if len("".join(document.split())) > MAX_SIZE:
            raise errors.LimitExceeded(f"Cannot exceed quota for PolicySize: {MAX_SIZE}")


def _newest_first(version: PolicyVersion) -> str:
    return f"{10**9 - int(version.version_id[1:].split('.')[0]):010d}"
