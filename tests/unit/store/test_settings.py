"""Where the state lives: LAMBKIN_DATABASE_URL names the PostgreSQL database; unset or empty keeps SQLite."""

from __future__ import annotations

from pathlib import Path

from lambkin.config import settings_from_environment


def test_the_database_url_comes_from_the_environment(tmp_path: Path) -> None:
    url = "postgresql://lambkin:pw@db.internal:5432/lambkin"
    settings, _ = settings_from_environment(tmp_path, "127.0.0.1", 9000, {"LAMBKIN_DATABASE_URL": url})
    assert settings.database_url == url


def test_without_it_the_state_stays_in_sqlite(tmp_path: Path) -> None:
    for env in ({}, {"LAMBKIN_DATABASE_URL": ""}):
        settings, _ = settings_from_environment(tmp_path, "127.0.0.1", 9000, env)
        assert settings.database_url is None
