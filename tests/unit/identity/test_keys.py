"""The keyring names who signs: the server's key is the root, user keys their user, temporary keys their
session (with its expiry), and anything else nobody."""

from __future__ import annotations

from datetime import UTC, datetime

from lambkin.credentials import Credentials
from lambkin.identity.keys import Keyring
from lambkin.identity.sessions import SessionSeal
from lambkin.testing.identity import FakeDirectory
from tests.unit.identity.directories import add_role, add_user

SERVER = Credentials("LKIATESTKEY000000000", "server-secret")


def keyring() -> tuple[Keyring, FakeDirectory]:
    directory = FakeDirectory()
    return Keyring(SERVER, "000000000000", directory), directory


def test_the_server_key_is_the_account_root() -> None:
    keys, _ = keyring()
    key = keys(SERVER.access_key_id, None)
    assert key is not None and key.secret == "server-secret" and key.expires is None
    assert key.caller.arn == "arn:aws:iam::000000000000:root"


def test_an_active_user_key_is_its_user_and_an_inactive_or_unknown_one_nobody() -> None:
    keys, directory = keyring()
    alice = add_user(directory, "alice", "AKIAALICE00000000000", "alice-secret")
    add_user(directory, "bob", "AKIABOB0000000000000", "bob-secret", active=False)

    key = keys("AKIAALICE00000000000", None)

    assert key is not None and key.secret == "alice-secret" and key.caller == alice
    assert keys("AKIABOB0000000000000", None) is None
    assert keys("AKIANOBODY0000000000", None) is None


def test_a_temporary_key_with_its_token_is_the_session_until_its_expiry() -> None:
    keys, directory = keyring()
    role = add_role(directory, "app")
    issued = SessionSeal("server-secret").issue(role.arn, role.role_id, "s1", 1_700_003_600)

    key = keys(issued.access_key_id, issued.session_token)

    assert key is not None
    assert key.secret == issued.secret_access_key
    assert key.caller.arn == "arn:aws:sts::000000000000:assumed-role/app/s1"
    assert key.expires == datetime.fromtimestamp(1_700_003_600, UTC)


def test_a_temporary_key_without_its_token_or_sealed_by_another_server_is_nobody() -> None:
    keys, directory = keyring()
    role = add_role(directory, "app")
    ours = SessionSeal("server-secret").issue(role.arn, role.role_id, "s1", 1_700_003_600)
    theirs = SessionSeal("another-secret").issue(role.arn, role.role_id, "s1", 1_700_003_600)

    assert keys(ours.access_key_id, None) is None
    assert keys(theirs.access_key_id, theirs.session_token) is None


def test_a_server_without_a_secret_knows_no_key_at_all() -> None:
    keys = Keyring(Credentials("LKIATESTKEY000000000", ""), "000000000000", FakeDirectory())
    forged = SessionSeal("").issue("arn:aws:iam::000000000000:role/app", "AROAAPP", "s1", 2_000_000_000)

    assert keys("LKIATESTKEY000000000", None) is None
    assert keys(forged.access_key_id, forged.session_token) is None
