"""IAM roles: create, read, list, delete, their trust policy and their tags."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lambkin.identity import iam_errors as errors
from lambkin.identity.iam import Change, Iam, page
from lambkin.identity.iam_model import RoleRecord, Tags, arn, unique_id

MAX_TAGS = 50


class Roles:
    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    async def create(
        self,
        name: str,
        trust_policy: str,
        *,
        path: str = "/",
        description: str = "",
        max_session_duration: int = 3600,
        tags: Sequence[tuple[str, str]] = (),
        boundary: str = "",
    ) -> RoleRecord:
        self.iam.check_document(trust_policy, "trust")
        check_tags(tags)
        if boundary:
            self.iam.check_boundary(boundary)
        async with self.iam.lock:
            if name.lower() in self.iam.roles:
                raise errors.EntityAlreadyExists(f"Role with name {name} already exists.")
            role = RoleRecord(
                name=name,
                path=path,
                role_id=unique_id("AROA"),
                arn=arn(self.iam.account_id, "role", path, name),
                trust_policy=trust_policy,
                created=self.iam.now(),
                description=description,
                max_session_duration=max_session_duration,
                tags=tuple(tags),
                boundary=boundary,
            )
            await self.iam.commit(Change(roles=[role]))
        return role

    def get(self, name: str) -> RoleRecord:
        return self.iam.role_named(name)

    def listing(
        self, path_prefix: str | None, marker: str | None, max_items: int | None
    ) -> tuple[list[RoleRecord], str | None]:
        prefix = path_prefix or "/"
        chosen = [r for r in self.iam.roles.values() if r.path.startswith(prefix)]
        return page(chosen, lambda r: r.name.lower(), marker, max_items)

    async def delete(self, name: str) -> None:
        async with self.iam.lock:
            role = await self.iam.current_role(name)
            if role.attached:
                raise errors.DeleteConflict(errors.MUST_DETACH)
            if role.inline:
                raise errors.DeleteConflict(errors.MUST_DELETE_POLICIES)
            await self.iam.commit(Change(drop_roles=[role.name]))

    async def update_trust_policy(self, name: str, trust_policy: str) -> None:
        self.iam.check_document(trust_policy, "trust")
        async with self.iam.lock:
            role = await self.iam.current_role(name)
            await self.iam.commit(Change(roles=[dataclasses.replace(role, trust_policy=trust_policy)]))

    async def tag(self, name: str, tags: Sequence[tuple[str, str]]) -> None:
        async with self.iam.lock:
            role = await self.iam.current_role(name)
            merged = merge_tags(role.tags, tags)
            await self.iam.commit(Change(roles=[dataclasses.replace(role, tags=merged)]))

    async def untag(self, name: str, keys: Sequence[str]) -> None:
        async with self.iam.lock:
            role = await self.iam.current_role(name)
            await self.iam.commit(Change(roles=[dataclasses.replace(role, tags=drop_tags(role.tags, keys))]))

    def tags(
        self, name: str, marker: str | None, max_items: int | None
    ) -> tuple[list[tuple[str, str]], str | None]:
        role = self.iam.role_named(name)
        return page(role.tags, lambda t: t[0], marker, max_items)


def check_tags(tags: Sequence[tuple[str, str]]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.LimitExceeded(f"Cannot exceed quota for TagsPerEntity: {MAX_TAGS}")
    keys = [k.lower() for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise errors.InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")


def merge_tags(current: Tags, added: Sequence[tuple[str, str]]) -> Tags:
    """`current` with `added` set (tag keys compare without case; a new value replaces the old)."""
    check_tags(added)
    replaced = {k.lower() for k, _ in added}
    merged = tuple((k, v) for k, v in current if k.lower() not in replaced) + tuple(added)
    if len(merged) > MAX_TAGS:
        raise errors.LimitExceeded(f"Cannot exceed quota for TagsPerEntity: {MAX_TAGS}")
    return merged


def drop_tags(current: Tags, keys: Sequence[str]) -> Tags:
    gone = {k.lower() for k in keys}
    return tuple((k, v) for k, v in current if k.lower() not in gone)
