"""IAM's state in the store: the schema's migrations, and each entity stored as one JSON row.

Names are unique regardless of case (IAM's rule): SQLite's name keys compare with NOCASE, PostgreSQL's have
a unique index of their lower case. Every method takes the open connection of a `Store.run` transaction;
the IAM service (identity/iam.py) holds the whole state in memory, loaded at start with `load`, writes each
change through here before it applies it, and reads back with `load_some` what another node changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from lambkin.identity import iam_model as model
from lambkin.identity.iam_model import AccessKeyRecord, ManagedPolicy, RoleRecord, UserRecord
from lambkin.store import Connection, Migration

MIGRATIONS = [
    Migration(
        "iam",
        1,
        """
        CREATE TABLE iam_roles (name TEXT PRIMARY KEY COLLATE NOCASE, record TEXT NOT NULL);
        CREATE TABLE iam_users (name TEXT PRIMARY KEY COLLATE NOCASE, record TEXT NOT NULL);
        CREATE TABLE iam_access_keys (
            access_key_id TEXT PRIMARY KEY,
            user_name TEXT NOT NULL REFERENCES iam_users(name),
            record TEXT NOT NULL
        );
        CREATE INDEX iam_access_keys_user ON iam_access_keys (user_name);
        CREATE TABLE iam_policies (arn TEXT PRIMARY KEY COLLATE NOCASE, record TEXT NOT NULL)
        """,
        # PostgreSQL has no NOCASE: a unique index of the lower-case key keeps names unique regardless of
        # case. The keys written are always an entity's own name (never renamed), so `=` finds them.
        postgresql="""
        CREATE TABLE iam_roles (name TEXT PRIMARY KEY, record TEXT NOT NULL);
        CREATE UNIQUE INDEX iam_roles_name ON iam_roles (lower(name));
        CREATE TABLE iam_users (name TEXT PRIMARY KEY, record TEXT NOT NULL);
        CREATE UNIQUE INDEX iam_users_name ON iam_users (lower(name));
        CREATE TABLE iam_access_keys (
            access_key_id TEXT PRIMARY KEY,
            user_name TEXT NOT NULL REFERENCES iam_users(name),
            record TEXT NOT NULL
        );
        CREATE INDEX iam_access_keys_user ON iam_access_keys (user_name);
        CREATE TABLE iam_policies (arn TEXT PRIMARY KEY, record TEXT NOT NULL);
        CREATE UNIQUE INDEX iam_policies_arn ON iam_policies (lower(arn))
        """,
    )
]


Entity = Literal["role", "user", "key", "policy"]


@dataclass
class Loaded:
    """Every stored entity, keyed as the service looks them up (names in lower case, policy ARNs)."""

    roles: dict[str, RoleRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    keys: dict[str, AccessKeyRecord] = field(default_factory=dict)
    policies: dict[str, ManagedPolicy] = field(default_factory=dict)


def load(conn: Connection) -> Loaded:
    loaded = Loaded()
    for (text,) in conn.execute("SELECT record FROM iam_roles"):
        role = model.decode_role(text)
        loaded.roles[role.name.lower()] = role
    for (text,) in conn.execute("SELECT record FROM iam_users"):
        user = model.decode_user(text)
        loaded.users[user.name.lower()] = user
    for (text,) in conn.execute("SELECT record FROM iam_access_keys"):
        key = model.decode_key(text)
        loaded.keys[key.access_key_id] = key
    for (text,) in conn.execute("SELECT record FROM iam_policies"):
        policy = model.decode_policy(text)
        loaded.policies[policy.arn.lower()] = policy
    return loaded


def load_some(conn: Connection, names: Sequence[tuple[Entity, str]]) -> Loaded:
    """The stored entities of these kinds and names (exactly as written; a deleted one is not found); a
    user's access keys with the user."""
    loaded = Loaded()
    for kind, name in names:
        if kind == "role":
            for (text,) in conn.execute("SELECT record FROM iam_roles WHERE name = ?", (name,)):
                role = model.decode_role(text)
                loaded.roles[role.name.lower()] = role
        elif kind == "user":
            for (text,) in conn.execute("SELECT record FROM iam_users WHERE name = ?", (name,)):
                user = model.decode_user(text)
                loaded.users[user.name.lower()] = user
            for (text,) in conn.execute("SELECT record FROM iam_access_keys WHERE user_name = ?", (name,)):
                key = model.decode_key(text)  # a user's keys come with it (its limit, its deletion)
                loaded.keys[key.access_key_id] = key
        elif kind == "key":
            for (text,) in conn.execute(
                "SELECT record FROM iam_access_keys WHERE access_key_id = ?", (name,)
            ):
                key = model.decode_key(text)
                loaded.keys[key.access_key_id] = key
        else:
            for (text,) in conn.execute("SELECT record FROM iam_policies WHERE arn = ?", (name,)):
                policy = model.decode_policy(text)
                loaded.policies[policy.arn.lower()] = policy
    return loaded


def put_role(conn: Connection, role: RoleRecord, new: bool = False) -> None:
    """Stores the role; a `new` one only if no role of its name is stored (else Conflict: another node
    created it since this one last heard)."""
    conn.execute(_put("iam_roles (name, record) VALUES (?, ?)", "name", new), (role.name, model.encode(role)))


def delete_role(conn: Connection, name: str) -> None:
    conn.execute("DELETE FROM iam_roles WHERE name = ?", (name,))


def put_user(conn: Connection, user: UserRecord, new: bool = False) -> None:
    """Stores the user; a `new` one only if no user of its name is stored (else Conflict)."""
    conn.execute(_put("iam_users (name, record) VALUES (?, ?)", "name", new), (user.name, model.encode(user)))


def delete_user(conn: Connection, name: str) -> None:
    conn.execute("DELETE FROM iam_users WHERE name = ?", (name,))


def put_key(conn: Connection, key: AccessKeyRecord) -> None:
    conn.execute(
        "INSERT INTO iam_access_keys (access_key_id, user_name, record) VALUES (?, ?, ?)"
        " ON CONFLICT (access_key_id) DO UPDATE SET record = excluded.record",
        (key.access_key_id, key.user_name, model.encode(key)),
    )


def count_keys(conn: Connection, user_name: str, lock: bool) -> int:
    """The user's stored access keys; with `lock`, after taking the user's row for the rest of the
    transaction, so that no other writer adds one before this one commits (PostgreSQL's row lock)."""
    if lock:
        conn.execute("SELECT name FROM iam_users WHERE name = ? FOR UPDATE", (user_name,))
    row = conn.execute("SELECT COUNT(*) FROM iam_access_keys WHERE user_name = ?", (user_name,)).fetchone()
    return int(row[0]) if row is not None else 0


def delete_key(conn: Connection, access_key_id: str) -> None:
    conn.execute("DELETE FROM iam_access_keys WHERE access_key_id = ?", (access_key_id,))


def put_policy(conn: Connection, policy: ManagedPolicy, new: bool = False) -> None:
    """Stores the policy; a `new` one only if no policy of its ARN is stored (else Conflict)."""
    conn.execute(
        _put("iam_policies (arn, record) VALUES (?, ?)", "arn", new), (policy.arn, model.encode(policy))
    )


def delete_policy(conn: Connection, arn: str) -> None:
    conn.execute("DELETE FROM iam_policies WHERE arn = ?", (arn,))


def _put(into: str, key: str, new: bool) -> str:
    """An INSERT, which replaces the stored record unless the entity is `new`."""
    if new:
        return f"INSERT INTO {into}"
    return f"INSERT INTO {into} ON CONFLICT ({key}) DO UPDATE SET record = excluded.record"
