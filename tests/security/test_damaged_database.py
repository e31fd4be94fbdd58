"""A damaged database file stops the server with a message naming the file and how to recover, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness import LambkinServer


@pytest.mark.parametrize("name", ["lambkin.db", "queues.db", "events.db"])
@pytest.mark.parametrize(
    "garbage",
    [os.urandom(16384), b"SQLite format 3\x00" + os.urandom(16368)],
    ids=["random", "sqlite-header"],
)
def test_a_damaged_database_is_named_with_how_to_recover(tmp_path: Path, name: str, garbage: bytes) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_bytes(garbage)
    server = LambkinServer(data)
    with pytest.raises(RuntimeError, match="exited early") as caught:
        server.start()
    message = str(caught.value)
    assert f"{data / name} is damaged" in message
    assert "move it aside" in message and "restore the file from a backup" in message
    assert "Traceback" not in message
    assert (data / name).read_bytes() == garbage  # nothing is written over what might still be saved
