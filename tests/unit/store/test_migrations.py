"""Migration steps: which a database still needs, and SQLite's type names as PostgreSQL's."""

from __future__ import annotations

import pytest

from lambkin.store import Migration, SchemaTooNew
from lambkin.store.migrations import pending, postgresql_types


def test_types_are_mapped_as_whole_words_outside_quotes() -> None:
    sql = """CREATE TABLE t (a INTEGER, b real, c BLOB, integers TEXT DEFAULT 'INTEGER', "REAL" TEXT)"""
    assert postgresql_types(sql) == (
        """CREATE TABLE t (a BIGINT, b DOUBLE PRECISION, c BYTEA, integers TEXT COLLATE "C" DEFAULT 'INTEGER',"""
        """ "REAL" TEXT COLLATE "C")"""
    )


def test_pending_steps_come_in_namespace_and_version_order() -> None:
    steps = [Migration("b", 2, ""), Migration("a", 1, ""), Migration("b", 1, "")]
    assert [(m.namespace, m.version) for m in pending(steps, [("b", 1)])] == [("a", 1), ("b", 2)]


def test_a_step_past_the_last_known_one_is_schema_too_new() -> None:
    with pytest.raises(SchemaTooNew):
        pending([Migration("a", 1, "")], [("a", 1), ("a", 2)])


def test_another_parts_steps_are_not_this_ones_concern() -> None:
    assert pending([Migration("a", 1, "")], [("queues", 9)]) == [Migration("a", 1, "")]


def test_statements_split_per_dialect() -> None:
    step = Migration("a", 1, "CREATE TABLE t (v INTEGER); CREATE INDEX i ON t (v);")
    assert step.statements("sqlite") == ["CREATE TABLE t (v INTEGER)", " CREATE INDEX i ON t (v)"]
    assert step.statements("postgresql")[0] == "CREATE TABLE t (v BIGINT)"
