"""IAM users and their access keys (two at most, Active or Inactive)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lambkin.identity import iam_errors as errors
from lambkin.identity.iam import Change, Iam, page
from lambkin.identity.iam_model import (
    AccessKeyRecord,
    UserRecord,
    access_key_id,
    arn,
    secret_access_key,
    unique_id,
)
from lambkin.identity.iam_roles import check_tags

MAX_KEYS = 2


class Users:
    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    async def create(
        self, name: str, *, path: str = "/", tags: Sequence[tuple[str, str]] = (), boundary: str = ""
    ) -> UserRecord:
        check_tags(tags)
        if boundary:
            self.iam.check_boundary(boundary)
        async with self.iam.lock:
            if name.lower() in self.iam.users:
                raise errors.EntityAlreadyExists(f"User with name {name} already exists.")
            user = UserRecord(
                name=name,
                path=path,
                user_id=unique_id("AIDA"),
                arn=arn(self.iam.account_id, "user", path, name),
                created=self.iam.now(),
                tags=tuple(tags),
                boundary=boundary,
            )
            await self.iam.commit(Change(users=[user]))
        return user

    def get(self, name: str) -> UserRecord:
        return self.iam.user_named(name)

    def listing(
        self, path_prefix: str | None, marker: str | None, max_items: int | None
    ) -> tuple[list[UserRecord], str | None]:
        chosen = [u for u in self.iam.users.values() if u.path.startswith(path_prefix or "/")]
        return page(chosen, lambda u: u.name.lower(), marker, max_items)

    async def delete(self, name: str) -> None:
        async with self.iam.lock:
            user = await self.iam.current_user(name)
            if self._keys_of(user):
                raise errors.DeleteConflict(errors.MUST_DELETE_KEYS)
            if user.attached:
                raise errors.DeleteConflict(errors.MUST_DETACH)
            if user.inline:
                raise errors.DeleteConflict(errors.MUST_DELETE_POLICIES)
            await self.iam.commit(Change(drop_users=[user.name]))

    async def create_key(self, name: str) -> AccessKeyRecord:
        async with self.iam.lock:
            user = await self.iam.current_user(name)
            key = AccessKeyRecord(
                access_key_id=access_key_id(),
                user_name=user.name,
                secret=secret_access_key(),
                created=self.iam.now(),
            )
            # the quota is counted by the write that stores the key (another node may have added one)
            await self.iam.commit(Change(keys=[key], key_limit=MAX_KEYS))
        return key

    async def delete_key(self, name: str, key_id: str) -> None:
        async with self.iam.lock:
            key = await self._key(name, key_id)
            await self.iam.commit(Change(drop_keys=[key.access_key_id]))

    async def update_key(self, name: str, key_id: str, active: bool) -> None:
        async with self.iam.lock:
            key = await self._key(name, key_id)
            await self.iam.commit(Change(keys=[dataclasses.replace(key, active=active)]))

    def keys(
        self, name: str, marker: str | None, max_items: int | None
    ) -> tuple[list[AccessKeyRecord], str | None]:
        user = self.iam.user_named(name)
        return page(self._keys_of(user), lambda k: k.access_key_id, marker, max_items)

    def _keys_of(self, user: UserRecord) -> list[AccessKeyRecord]:
        return [k for k in self.iam.keys.values() if k.user_name.lower() == user.name.lower()]

    async def _key(self, name: str, key_id: str) -> AccessKeyRecord:
        user = await self.iam.current_user(name, f"key:{key_id}")
        key = self.iam.keys.get(key_id)
        if key is None or key.user_name.lower() != user.name.lower():
            raise errors.no_access_key(key_id)
        return key
