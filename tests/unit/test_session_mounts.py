"""The test session's last clean-up detaches only the mounts of sessions pytest is about to delete: never
those of a session still running beside it (a CI run's tmpfs under a developer's run)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import _removed_by_pytest


def test_a_running_sessions_directory_is_kept_however_old(tmp_path: Path) -> None:
    running, ended = tmp_path / "pytest-5", tmp_path / "pytest-6"
    for session in (running, ended):
        session.mkdir()
    (running / ".lock").touch()

    assert not _removed_by_pytest(running, "pytest-78")
    assert _removed_by_pytest(ended, "pytest-78")
    assert not _removed_by_pytest(ended, "pytest-8")  # among the newest three, kept
