"""A record for a queue another node owns is sent through that node; one that cannot be sent now waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from lambkin.invoke.async_destinations import Destinations
from lambkin.queues.errors import QueueDoesNotExist, QueueElsewhere, QueueUnavailable
from lambkin.queues.sending import SendRequest

ARN = "arn:aws:sqs:us-east-1:123456789012:records"


class Registry:
    def name_of_arn(self, arn: str) -> str | None:
        return arn.rpartition(":")[2]


@dataclass
class Elsewhere:
    """The queue service of a node that does not own the queue."""

    registry: Registry = field(default_factory=Registry)

    async def send(self, name: str, request: SendRequest, sender: str, relayed: bool = False) -> Any:
        raise QueueElsewhere("http://b:9000", "b")


async def test_a_record_for_another_nodes_queue_goes_through_that_node() -> None:
    sent: list[tuple[str, str, str]] = []

    async def forward(node: str, queue: str, request: SendRequest, sender: str) -> None:
        sent.append((node, queue, request.body))

    destinations = Destinations(Elsewhere(), forward=forward)  # type: ignore[arg-type]
    assert await destinations.to_queue(ARN, "record")
    assert sent == [("b", "records", "record")]


async def test_a_record_that_cannot_be_sent_now_fails_the_attempt_and_one_for_no_queue_is_dropped() -> None:
    async def unavailable(node: str, queue: str, request: SendRequest, sender: str) -> None:
        raise QueueUnavailable("the node b is unreachable")

    async def missing(node: str, queue: str, request: SendRequest, sender: str) -> None:
        raise QueueDoesNotExist()

    with pytest.raises(QueueUnavailable):
        await Destinations(Elsewhere(), forward=unavailable).to_queue(ARN, "record")  # type: ignore[arg-type]
    assert not await Destinations(Elsewhere(), forward=missing).to_queue(ARN, "record")  # type: ignore[arg-type]
