"""The lifecycle of one HTTP/1.1 server connection: its phases and the moves between them.

Every move not listed is refused (InvalidStateTransition); `transition()` is the one place a phase changes.
Within OPEN and DRAINING, what the connection is doing (reading a request, answering, idle between
requests) follows from what it holds: the request being parsed and the answers it still owes.
"""

from __future__ import annotations

import enum


class InvalidStateTransition(Exception):
    """A move that the current phase does not allow."""

    def __init__(self, current: Phase, target: Phase) -> None:
        super().__init__(f"connection: {current.name} -> {target.name} is not allowed")
        self.current = current
        self.target = target


class Phase(enum.Enum):
    """One client connection, from its accept to its end."""

    OPEN = "open"  # reading requests and answering them, in order
    DRAINING = "draining"  # the server is shutting down: closes once the answers it owes are written
    HANDING_OVER = "handing-over"  # a request for another protocol came: waits for the earlier answers
    HANDED_OVER = "handed-over"  # the transport belongs to another protocol now
    CLOSED = "closed"  # the transport is gone


_MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.OPEN: frozenset({Phase.DRAINING, Phase.HANDING_OVER, Phase.CLOSED}),
    Phase.DRAINING: frozenset({Phase.CLOSED}),
    Phase.HANDING_OVER: frozenset({Phase.HANDED_OVER, Phase.DRAINING, Phase.CLOSED}),
    Phase.HANDED_OVER: frozenset(),
    Phase.CLOSED: frozenset(),
}


def transition(current: Phase, target: Phase) -> Phase:
    """Returns `target` if `current` allows the move, else raises InvalidStateTransition."""
    if target not in _MOVES[current]:
        raise InvalidStateTransition(current, target)
    return target
