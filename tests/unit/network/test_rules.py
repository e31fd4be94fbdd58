"""lambkin's nftables table as JSON commands: replaced whole, the isolation rules, NAT; nft accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lambkin.network import rules
from lambkin.network.policy import parse


def _commands() -> list[dict[str, Any]]:
    return rules.ruleset("abc123", parse("", "", "192.168.1.0/24", ""), Path("/srv/lambkin-data"))


def test_the_table_is_replaced_in_one_transaction() -> None:
    table = {"family": "inet", "name": "lambkin_abc123"}
    assert _commands()[:3] == [
        {"add": {"table": table}},
        {"delete": {"table": table}},
        {"add": {"table": table}},
    ]


def test_every_rule_is_in_lambkins_own_table_and_the_first_names_the_data_directory() -> None:
    added = [command["add"]["rule"] for command in _commands() if "rule" in command.get("add", {})]
    assert {rule["table"] for rule in added} == {"lambkin_abc123"}
    assert added[0]["comment"] == "/srv/lambkin-data"


def test_the_denied_ranges_are_dropped_when_forwarded() -> None:
    text = json.dumps(_commands())
    assert '"addr": "192.168.1.0", "len": 24' in text
    assert '"addr": "169.254.0.0", "len": 16' in text
    assert '{"masquerade": null}' in text


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")
def test_nft_accepts_the_table() -> None:
    done = subprocess.run(
        ["nft", "-c", "-j", "-f", "-"],  # --check: parsed and validated, nothing applied
        input=json.dumps({"nftables": _commands()}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
