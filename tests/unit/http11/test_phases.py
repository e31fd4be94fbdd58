"""A connection's phases: each allows only its own moves; everything else is refused."""

from __future__ import annotations

import pytest

from lambkin.http11.phases import InvalidStateTransition, Phase, transition


def test_an_open_connection_may_drain_hand_over_or_close() -> None:
    for target in (Phase.DRAINING, Phase.HANDING_OVER, Phase.CLOSED):
        assert transition(Phase.OPEN, target) is target


def test_a_connection_handed_over_or_closed_never_moves_again() -> None:
    for current in (Phase.HANDED_OVER, Phase.CLOSED):
        for target in Phase:
            with pytest.raises(InvalidStateTransition):
                transition(current, target)


def test_a_draining_connection_only_closes() -> None:
    assert transition(Phase.DRAINING, Phase.CLOSED) is Phase.CLOSED
    with pytest.raises(InvalidStateTransition, match="DRAINING -> HANDING_OVER"):
        transition(Phase.DRAINING, Phase.HANDING_OVER)
