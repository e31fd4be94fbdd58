"""The IAM service's state: every role, user, access key and managed policy of the account, held in memory
and written through to SQLite (identity/iam_store.py), and the `Directory` that STS, the keyring and the
authorizer read it through. The operations live beside it: iam_roles.py, iam_users.py, iam_policies.py
and iam_attachments.py (inline and attached policies of roles and users).

Writes take `lock`, persist in one transaction, then change memory and bump `generation`. Each write
announces what it changed on the bus (topic `iam`, keys `role:NAME`, `user:NAME`, `key:ID`, `policy:ARN`),
so every node sharing the database reads those entities back (`refresh`, under `lock`: a node's reload never
interleaves with its own write) and bumps its generation, which drops the authorizer's cached decisions.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar, assert_never, cast

from lambkin.cluster.bus import Bus, SoloBus
from lambkin.cluster.refresh import Refresh
from lambkin.identity import iam_errors as errors
from lambkin.identity import iam_store as store
from lambkin.identity.directory import Role, UserKey
from lambkin.identity.iam_model import (
    AccessKeyRecord,
    Kind,
    ManagedPolicy,
    RoleRecord,
    UserRecord,
)
from lambkin.identity.managed import aws_managed_policies
from lambkin.identity.principals import Principal
from lambkin.store import Conflict, Connection, Store

T = TypeVar("T")
DocumentKind = Literal["identity", "managed", "trust"]  # managed: a managed policy's (2012-10-17 only)
DocumentCheck = Callable[[str, DocumentKind], None]
"""Raises MalformedPolicyDocument (or LimitExceeded) for a document IAM would refuse (iam_documents.py)."""

DEFAULT_PAGE = 100
TOPIC = "iam"  # the bus's topic: the entity `kind:name` changed


@dataclass(frozen=True, kw_only=True)
class Change:
    """What one IAM write stores and removes, persisted in one transaction."""

    roles: Sequence[RoleRecord] = ()
    users: Sequence[UserRecord] = ()
    keys: Sequence[AccessKeyRecord] = ()
    policies: Sequence[ManagedPolicy] = ()
    drop_roles: Sequence[str] = ()
    drop_users: Sequence[str] = ()
    drop_keys: Sequence[str] = ()
    drop_policies: Sequence[str] = ()
    # new keys are stored only while their user has fewer than this many, counted as the write stores them
    # (another node may have added one since this node read the user)
    key_limit: int | None = None


class Iam:
    """The account's IAM state and the Directory over it."""

    def __init__(
        self,
        db: Store,
        account_id: str,
        check_document: DocumentCheck,
        clock: Callable[[], float] = time.time,
        bus: Bus | None = None,
    ) -> None:
        self.db = db
        self.bus: Bus = bus or SoloBus()
        self.account_id = account_id
        self.check_document = check_document
        self.clock = clock
        self.lock = asyncio.Lock()
        self.roles: dict[str, RoleRecord] = {}
        self.users: dict[str, UserRecord] = {}
        self.keys: dict[str, AccessKeyRecord] = {}
        self.policies: dict[str, ManagedPolicy] = {}
        self.aws_policies = aws_managed_policies()
        self._generation = 0
        self.refresh = Refresh(self.bus, TOPIC, self.reload)

    def load(self) -> None:
        """Reads the stored state (at start-up, before the server takes requests)."""
        loaded = self.db.run_sync(store.load)
        self.roles, self.users, self.keys, self.policies = (
            loaded.roles,
            loaded.users,
            loaded.keys,
            loaded.policies,
        )
        self._generation += 1

    async def reload(self, keys: frozenset[str] | None) -> None:
        """Reads the entities `keys` (`kind:name`; None: everything) again: what another node wrote."""
        async with self.lock:
            await self.reread(keys)

    async def reread(self, keys: Iterable[str] | None) -> None:
        """`reload` for a caller that holds `lock`: a write reads what it changes as the database has it now."""
        if keys is None:
            loaded = await self.db.run(store.load)
            self.roles, self.users, self.keys, self.policies = (
                loaded.roles,
                loaded.users,
                loaded.keys,
                loaded.policies,
            )
        else:
            names = [self._stored(*_entity(key)) for key in sorted(keys)]
            loaded = await self.db.run(lambda conn: store.load_some(conn, names))
            for kind, name in names:
                match kind:
                    case "role":
                        self.roles.pop(name.lower(), None)
                    case "user":
                        self.users.pop(name.lower(), None)
                        for key in [k for k in self.keys.values() if k.user_name.lower() == name.lower()]:
                            del self.keys[key.access_key_id]
                    case "key":
                        self.keys.pop(name, None)
                    case "policy":
                        self.policies.pop(name.lower(), None)
                    case _:
                        assert_never(kind)
            self.roles.update(loaded.roles)
            self.users.update(loaded.users)
            self.keys.update(loaded.keys)
            self.policies.update(loaded.policies)
        self._generation += 1

    def _stored(self, kind: store.Entity, name: str) -> tuple[store.Entity, str]:
        """`name` as stored, when this node knows the entity (names and ARNs are found case-insensitively,
        stored as created)."""
        match kind:
            case "role":
                role = self.roles.get(name.lower())
                return kind, name if role is None else role.name
            case "user":
                user = self.users.get(name.lower())
                return kind, name if user is None else user.name
            case "policy":
                policy = self.policies.get(name.lower())
                return kind, name if policy is None else policy.arn
            case _:
                return kind, name

    async def current(self, kind: Kind, name: str, *more: str) -> RoleRecord | UserRecord:
        """The role or user `name` as the database has it now (and `more` entities, `kind:name`, with it),
        for a write under `lock`: another node's change this node has not heard of yet is neither refused
        (a role just created there) nor overwritten (a policy just attached there)."""
        await self.reread([f"{kind}:{name}", *more])
        return self.holder(kind, name)

    async def current_role(self, name: str) -> RoleRecord:
        await self.reread([f"role:{name}"])
        return self.role_named(name)

    async def current_user(self, name: str, *more: str) -> UserRecord:
        await self.reread([f"user:{name}", *more])
        return self.user_named(name)

    async def commit(self, change: Change) -> None:
        """Stores `change`, then applies it to memory. Callers hold `lock` from their checks to here."""

        # What this node has not heard of is created here: the database refuses it if another node did first.
        new_roles = {r.name for r in change.roles if r.name.lower() not in self.roles}
        new_users = {u.name for u in change.users if u.name.lower() not in self.users}
        new_policies = {p.arn for p in change.policies if p.arn.lower() not in self.policies}

        def persist(conn: Connection) -> None:
            for name in change.drop_keys:
                store.delete_key(conn, name)
            for name in change.drop_roles:
                store.delete_role(conn, name)
            for name in change.drop_users:
                store.delete_user(conn, name)
            for name in change.drop_policies:
                store.delete_policy(conn, name)
            for role in change.roles:
                store.put_role(conn, role, new=role.name in new_roles)
            for user in change.users:
                store.put_user(conn, user, new=user.name in new_users)
            for key in change.keys:
                if change.key_limit is not None:
                    locked = self.db.dialect == "postgresql"  # (SQLite's writers take turns already)
                    if store.count_keys(conn, key.user_name, lock=locked) >= change.key_limit:
                        raise errors.keys_quota(change.key_limit)
                store.put_key(conn, key)
            for policy in change.policies:
                store.put_policy(conn, policy, new=policy.arn in new_policies)
            for entity in _keys(change):
                self.bus.announce(conn, TOPIC, entity)

        try:
            await self.db.run(persist)
        except Conflict as exc:
            if new_roles or new_users or new_policies:
                raise _exists(change) from exc
            raise
        for name in change.drop_keys:
            self.keys.pop(name, None)
        for name in change.drop_roles:
            self.roles.pop(name.lower(), None)
        for name in change.drop_users:
            self.users.pop(name.lower(), None)
        for name in change.drop_policies:
            self.policies.pop(name.lower(), None)
        self.roles.update((r.name.lower(), r) for r in change.roles)
        self.users.update((u.name.lower(), u) for u in change.users)
        self.keys.update((k.access_key_id, k) for k in change.keys)
        self.policies.update((p.arn.lower(), p) for p in change.policies)
        self._generation += 1

    # lookups the operations share

    def role_named(self, name: str) -> RoleRecord:
        found = self.roles.get(name.lower())
        if found is None:
            raise errors.no_role(name)
        return found

    def user_named(self, name: str) -> UserRecord:
        found = self.users.get(name.lower())
        if found is None:
            raise errors.no_user(name)
        return found

    def holder(self, kind: Kind, name: str) -> RoleRecord | UserRecord:
        return self.role_named(name) if kind == "role" else self.user_named(name)

    def policy(self, policy_arn: str) -> ManagedPolicy | None:
        key = policy_arn.lower()
        return self.policies.get(key) or self.aws_policies.get(key)

    def attachment_count(self, policy_arn: str) -> int:
        holders: list[RoleRecord | UserRecord] = [*self.roles.values(), *self.users.values()]
        return sum(policy_arn in h.attached for h in holders)

    def boundary_count(self, policy_arn: str) -> int:
        """How many users and roles have the policy as their permissions boundary."""
        holders: list[RoleRecord | UserRecord] = [*self.roles.values(), *self.users.values()]
        return sum(h.boundary == policy_arn for h in holders)

    def check_boundary(self, policy_arn: str) -> None:
        """A permissions boundary must be a managed policy that exists (NoSuchEntity, InvalidInput)."""
        if not errors.is_policy_arn(policy_arn):
            raise errors.invalid_arn(policy_arn)
        if self.policy(policy_arn) is None:
            raise errors.not_attachable(policy_arn)

    def now(self) -> float:
        return self.clock()

    # the Directory

    @property
    def generation(self) -> int:
        return self._generation

    def role(self, arn: str) -> Role | None:
        found = self.roles.get(arn.rsplit("/", 1)[-1].lower())
        if found is None or found.arn != arn:
            return None
        return Role(
            arn=found.arn,
            name=found.name,
            role_id=found.role_id,
            trust_policy=found.trust_policy,
            max_session_duration_s=found.max_session_duration,
            created=timestamp(found.created),
        )

    def access_key(self, access_key_id: str) -> UserKey | None:
        key = self.keys.get(access_key_id)
        user = None if key is None else self.users.get(key.user_name.lower())
        if key is None or user is None:
            return None
        return UserKey(secret=key.secret, user=self.user_principal(user), active=key.active)

    def identity_policies(self, principal: Principal) -> Sequence[str]:
        holder = self._holder_of(principal)
        if holder is None:
            return ()
        attached = [self.policy(arn) for arn in holder.attached]
        return [*holder.inline.values(), *(p.document for p in attached if p is not None)]

    def _holder_of(self, principal: Principal) -> RoleRecord | UserRecord | None:
        """The user, or the role of the session (only the role it was issued for), the principal is."""
        holder: RoleRecord | UserRecord | None = None
        if principal.kind == "user":
            holder = self.users.get(principal.name.lower())
            if holder is not None and holder.user_id != principal.user_id:
                holder = None
        elif principal.kind == "assumed-role":
            # A session belongs to the role it was issued for, not to a later role of the same name:
            # IAM keys a role's sessions by its unique ID (AROA...), which a re-created role does not share.
            holder = self.roles.get(principal.role_arn.rsplit("/", 1)[-1].lower())
            if holder is not None and (
                holder.arn != principal.role_arn or principal.user_id.split(":", 1)[0] != holder.role_id
            ):
                holder = None
        return holder

    def permissions_boundary(self, principal: Principal) -> str | None:
        """The boundary's document; "" (which allows nothing) if its policy is gone (IAM refuses to delete a
        policy in use as a boundary: this is only ever a fault, and it must not lift the cap)."""
        holder = self._holder_of(principal)
        if holder is None or not holder.boundary:
            return None
        found = self.policy(holder.boundary)
        return found.document if found is not None else ""

    def managed_policy(self, arn: str) -> str | None:
        found = self.policy(arn)
        return found.document if found is not None else None

    def user_principal(self, user: UserRecord) -> Principal:
        return Principal(
            kind="user", arn=user.arn, account=self.account_id, user_id=user.user_id, name=user.name
        )


def _keys(change: Change) -> list[str]:
    """The bus's keys of what `change` writes and removes."""
    return [
        *(f"role:{name}" for name in (*change.drop_roles, *(r.name for r in change.roles))),
        *(f"user:{name}" for name in (*change.drop_users, *(u.name for u in change.users))),
        *(f"key:{name}" for name in (*change.drop_keys, *(k.access_key_id for k in change.keys))),
        *(f"policy:{arn}" for arn in (*change.drop_policies, *(p.arn for p in change.policies))),
    ]


def _exists(change: Change) -> errors.EntityAlreadyExists:
    """IAM's answer to a create that another node made first (the database refused this one)."""
    if change.roles:
        return errors.EntityAlreadyExists(f"Role with name {change.roles[0].name} already exists.")
    if change.users:
        return errors.EntityAlreadyExists(f"User with name {change.users[0].name} already exists.")
    name = change.policies[0].name if change.policies else ""
    return errors.EntityAlreadyExists(
        f"A policy called {name} already exists. Duplicate names are not allowed."
    )


def _entity(key: str) -> tuple[store.Entity, str]:
    kind, _, name = key.partition(":")
    if kind not in ("role", "user", "key", "policy"):
        raise ValueError(f"not an IAM entity: {key!r}")
    return cast(store.Entity, kind), name


def timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def page(
    items: Sequence[T], key: Callable[[T], str], marker: str | None, max_items: int | None
) -> tuple[list[T], str | None]:
    """IAM's Marker/MaxItems paging over `items` in `key` order: a page, and the marker of the next one."""
    ordered = sorted(items, key=key)
    if marker:
        try:
            after = base64.urlsafe_b64decode(marker.encode()).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.ValidationError("Invalid Marker.") from exc
        ordered = [item for item in ordered if key(item) > after]
    limit = max_items or DEFAULT_PAGE
    chosen = ordered[:limit]
    if len(ordered) <= limit:
        return chosen, None
    return chosen, base64.urlsafe_b64encode(key(chosen[-1]).encode()).decode()
