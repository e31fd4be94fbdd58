"""Console sessions on a real SQLite store shared by two ConsoleSessions, as two nodes of a cluster share
their database; a manual clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lambkin.api.console_sessions import LIFETIME_S, MAX_SESSIONS_PER_KEY, MIGRATIONS, ConsoleSessions
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.clock import ManualClock


@dataclass(frozen=True)
class Key:
    secret: str
    caller: str


@pytest.fixture
def nodes(tmp_path: Path) -> tuple[ConsoleSessions, ConsoleSessions, dict[str, Key], ManualClock]:
    keys = {"AKIDALICE": Key("alice-secret", "alice")}
    clock = ManualClock(1_000.0)
    stores = [SqliteStore(tmp_path / "lambkin.db") for _ in range(2)]
    stores[0].migrate(MIGRATIONS)
    here, there = (ConsoleSessions(lambda k, t: keys.get(k), db, clock) for db in stores)
    return here, there, keys, clock


async def test_a_session_made_on_one_node_is_known_on_the_other_until_signed_out(
    nodes: tuple[ConsoleSessions, ConsoleSessions, dict[str, Key], ManualClock],
) -> None:
    here, there, _, _ = nodes
    assert await here.sign_in("AKIDALICE", "wrong") is None
    assert await here.sign_in("AKIDNOBODY", "alice-secret") is None
    session = await here.sign_in("AKIDALICE", "alice-secret")
    assert session is not None
    found = await there.find(session.token)
    assert found is not None and (found.caller, found.form_token) == ("alice", session.form_token)
    assert await there.find(session.token + "x") is None and await there.find(None) is None
    await there.sign_out(session.token)
    assert await here.find(session.token) is None


async def test_a_session_ends_when_it_expires_or_its_key_is_gone(
    nodes: tuple[ConsoleSessions, ConsoleSessions, dict[str, Key], ManualClock],
) -> None:
    here, there, keys, clock = nodes
    first = await here.sign_in("AKIDALICE", "alice-secret")
    assert first is not None
    clock.advance(LIFETIME_S + 1)
    assert await there.find(first.token) is None
    second = await here.sign_in("AKIDALICE", "alice-secret")
    assert second is not None and await there.find(second.token) is not None
    del keys["AKIDALICE"]
    assert await there.find(second.token) is None


async def test_a_key_keeps_a_bounded_number_of_sessions(
    nodes: tuple[ConsoleSessions, ConsoleSessions, dict[str, Key], ManualClock],
) -> None:
    here, _, _, clock = nodes
    made = []
    for _ in range(MAX_SESSIONS_PER_KEY + 2):
        clock.advance(1)
        session = await here.sign_in("AKIDALICE", "alice-secret")
        assert session is not None
        made.append(session.token)
    alive = [token for token in made if await here.find(token) is not None]
    assert alive == made[2:]  # the oldest made way
