"""The policies of a role or a user: inline ones (Put/Get/Delete/List RolePolicy and UserPolicy), attached
managed ones (Attach/Detach/ListAttached RolePolicies and UserPolicies), and the managed policy set as its
permissions boundary (Put/Delete RolePermissionsBoundary and UserPermissionsBoundary)."""

from __future__ import annotations

import dataclasses

from lambkin.identity import iam_errors as errors
from lambkin.identity.iam import Change, Iam, page
from lambkin.identity.iam_model import Kind, ManagedPolicy, RoleRecord, UserRecord

MAX_ATTACHED = 10  # IAM's default quota of managed policies per role and per user
INLINE_LIMIT: dict[Kind, int] = {"role": 10_240, "user": 2_048}  # aggregate, white space not counted


class Attachments:
    def __init__(self, iam: Iam) -> None:
        self.iam = iam

    async def put_inline(self, kind: Kind, name: str, policy_name: str, document: str) -> None:
        self.iam.check_document(document, "identity")
        async with self.iam.lock:
            holder = await self.iam.current(kind, name)
            inline = {**holder.inline, policy_name: document}
            size = sum(len("".join(text.split())) for text in inline.values())
            if size > INLINE_LIMIT[kind]:
                raise errors.LimitExceeded(
                    f"Maximum policy size of {INLINE_LIMIT[kind]} bytes exceeded for {kind} {holder.name}"
                )
            await self.iam.commit(_changed(dataclasses.replace(holder, inline=inline)))

    def get_inline(self, kind: Kind, name: str, policy_name: str) -> str:
        holder = self.iam.holder(kind, name)
        document = holder.inline.get(policy_name)
        if document is None:
            raise errors.NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
        return document

    async def delete_inline(self, kind: Kind, name: str, policy_name: str) -> None:
        async with self.iam.lock:
            holder = await self.iam.current(kind, name)
            if policy_name not in holder.inline:
                raise errors.NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
            inline = {k: v for k, v in holder.inline.items() if k != policy_name}
            await self.iam.commit(_changed(dataclasses.replace(holder, inline=inline)))

    def list_inline(
        self, kind: Kind, name: str, marker: str | None, max_items: int | None
    ) -> tuple[list[str], str | None]:
        holder = self.iam.holder(kind, name)
        return page(list(holder.inline), lambda n: n, marker, max_items)

    async def attach(self, kind: Kind, name: str, policy_arn: str) -> None:
        check_policy_arn(policy_arn)
        async with self.iam.lock:
            holder = await self.iam.current(kind, name, f"policy:{policy_arn}")
            if self.iam.policy(policy_arn) is None:
                raise errors.not_attachable(policy_arn)
            if policy_arn in holder.attached:
                return
            if len(holder.attached) >= MAX_ATTACHED:
                noun = "PoliciesPerRole" if kind == "role" else "PoliciesPerUser"
                raise errors.LimitExceeded(f"Cannot exceed quota for {noun}: {MAX_ATTACHED}")
            attached = (*holder.attached, policy_arn)
            await self.iam.commit(_changed(dataclasses.replace(holder, attached=attached)))

    async def detach(self, kind: Kind, name: str, policy_arn: str) -> None:
        check_policy_arn(policy_arn)
        async with self.iam.lock:
            holder = await self.iam.current(kind, name)
            if policy_arn not in holder.attached:
                raise errors.no_policy(policy_arn)
            attached = tuple(a for a in holder.attached if a != policy_arn)
            await self.iam.commit(_changed(dataclasses.replace(holder, attached=attached)))

    async def set_boundary(self, kind: Kind, name: str, policy_arn: str) -> None:
        """Sets (or, with "", removes) the user's or role's permissions boundary."""
        if policy_arn:
            self.iam.check_boundary(policy_arn)
        async with self.iam.lock:
            holder = await self.iam.current(kind, name)
            await self.iam.commit(_changed(dataclasses.replace(holder, boundary=policy_arn)))

    def list_attached(
        self, kind: Kind, name: str, path_prefix: str | None, marker: str | None, max_items: int | None
    ) -> tuple[list[ManagedPolicy], str | None]:
        holder = self.iam.holder(kind, name)
        found = [p for p in map(self.iam.policy, holder.attached) if p is not None]
        chosen = [p for p in found if p.path.startswith(path_prefix or "/")]
        return page(chosen, lambda p: p.name.lower(), marker, max_items)


def check_policy_arn(policy_arn: str) -> None:
    if not errors.is_policy_arn(policy_arn):
        raise errors.invalid_arn(policy_arn)


def _changed(holder: RoleRecord | UserRecord) -> Change:
    return Change(roles=[holder]) if isinstance(holder, RoleRecord) else Change(users=[holder])
