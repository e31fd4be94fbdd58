"""Schema migrations: each part's numbered steps, which of them a database still needs, and their DDL per dialect."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lambkin.store.errors import SchemaTooNew

LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " namespace TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (namespace, version))"
)
RECORD = "INSERT INTO schema_migrations (namespace, version) VALUES (?, ?)"

# SQLite's type names as PostgreSQL's (whole words, outside quoted names and strings). TEXT compares as
# SQLite's does, byte by byte ("C"), whatever the database's own collation: listings page in the same order.
_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA", "TEXT": 'TEXT COLLATE "C"'}
_WORDS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|\b(INTEGER|REAL|BLOB|TEXT)\b""", re.IGNORECASE)


@dataclass(frozen=True)
class Migration:
    """One step of one part's schema. Each part (images, functions, ...) numbers its own steps from 1.

    `sql` is DDL in the portable subset with SQLite's type names (TEXT, INTEGER, REAL, BLOB), which the
    PostgreSQL backend maps to TEXT COLLATE "C" (SQLite's byte order), BIGINT, DOUBLE PRECISION and BYTEA;
    `postgresql` replaces it there when the mapping is not enough.
    """

    namespace: str
    version: int
    sql: str
    postgresql: str | None = None

    def statements(self, dialect: str) -> list[str]:
        """The step's statements as `dialect` runs them."""
        text = self.sql
        if dialect == "postgresql":
            text = self.postgresql if self.postgresql is not None else postgresql_types(self.sql)
        return [s for s in text.split(";") if s.strip()]


def postgresql_types(sql: str) -> str:
    """SQLite's INTEGER, REAL, BLOB and TEXT as PostgreSQL's BIGINT, DOUBLE PRECISION, BYTEA and TEXT
    COLLATE "C"."""
    return _WORDS.sub(lambda m: m.group(1) or _TYPES[m.group(2).upper()], sql)


def pending(migrations: Sequence[Migration], applied: Iterable[tuple[str, int]]) -> list[Migration]:
    """The steps not yet applied, in order; SchemaTooNew if a namespace has a step past the last one known."""
    done = set(applied)
    known: dict[str, int] = {}
    for step in migrations:
        known[step.namespace] = max(known.get(step.namespace, 0), step.version)
    for namespace, version in sorted(done):
        if namespace in known and version > known[namespace]:
            raise SchemaTooNew(namespace, version, known[namespace])
    order = sorted(migrations, key=lambda m: (m.namespace, m.version))
    return [step for step in order if (step.namespace, step.version) not in done]
