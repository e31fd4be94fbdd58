"""Temporary credentials carry their session in a sealed token: nothing stored, nothing forgeable."""

from __future__ import annotations

import base64

from lambkin.identity.sessions import SessionSeal

ROLE = "arn:aws:iam::000000000000:role/service/app-role"


def test_a_token_opens_to_its_session_in_any_process_that_holds_the_server_secret() -> None:
    issued = SessionSeal("server-secret").issue(ROLE, "AROAAPPROLE", "orders", 1_700_003_600)

    restarted = SessionSeal("server-secret")
    session = restarted.open(issued.access_key_id, issued.session_token)

    assert session == issued.session
    assert session is not None and session.expires == 1_700_003_600
    assert restarted.secret(issued.access_key_id) == issued.secret_access_key
    assert issued.access_key_id.startswith("ASIA") and len(issued.access_key_id) == 20
    assert len(issued.secret_access_key) == 40


def test_an_assumed_role_principal_is_named_as_aws_names_it() -> None:
    issued = SessionSeal("s").issue(ROLE, "AROAAPPROLE", "orders", 1_700_003_600)

    principal = issued.session.principal()

    assert principal.kind == "assumed-role"
    assert principal.arn == "arn:aws:sts::000000000000:assumed-role/app-role/orders"  # no path
    assert principal.user_id == "AROAAPPROLE:orders"
    assert principal.account == "000000000000"
    assert principal.role_arn == ROLE


def test_a_token_does_not_open_with_another_key_another_server_or_a_changed_claim() -> None:
    seal = SessionSeal("server-secret")
    issued = seal.issue(ROLE, "AROAAPPROLE", "orders", 1_700_003_600)
    other = seal.issue(ROLE, "AROAAPPROLE", "orders", 1_700_003_600)
    raw = base64.urlsafe_b64decode(issued.session_token[4:])
    longer = raw.replace(b"1700003600", b"1900003600")
    tampered = issued.session_token[:4] + base64.urlsafe_b64encode(longer).decode()

    assert seal.open(other.access_key_id, issued.session_token) is None
    assert SessionSeal("another-secret").open(issued.access_key_id, issued.session_token) is None
    assert seal.open(issued.access_key_id, tampered) is None
    assert seal.open(issued.access_key_id, None) is None
    assert seal.open(issued.access_key_id, "not-a-token") is None
    assert seal.open(issued.access_key_id, "LKST!!!") is None


def test_a_token_carries_the_session_policies_it_was_issued_with() -> None:
    policy = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}'
    arns = ("arn:aws:iam::aws:policy/AmazonSQSFullAccess",)
    issued = SessionSeal("s").issue(ROLE, "AROAAPPROLE", "orders", 1_700_003_600, policy, arns)

    session = SessionSeal("s").open(issued.access_key_id, issued.session_token)

    assert session is not None and (session.policy, session.policy_arns) == (policy, arns)
    principal = session.principal()
    assert principal.has_session_policies
    assert (principal.session_policy, principal.session_policy_arns) == (policy, arns)
    assert not SessionSeal("s").issue(ROLE, "AROAAPPROLE", "o", 1).session.principal().has_session_policies
