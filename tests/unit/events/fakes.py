"""Fakes for the mapping unit tests: the control plane's and the queue engine's lookups."""

from __future__ import annotations

from lambkin.events.mapping_service import FunctionInfo, QueueInfo

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
Q = "arn:aws:sqs:us-east-1:123456789012:"


class Functions:
    def __init__(self) -> None:
        self.timeouts = {"f": 3, "g": 60}

    async def __call__(self, raw_name: str) -> FunctionInfo:
        name, _, qualifier = raw_name.partition(":")
        if name not in self.timeouts:
            raise LookupError(name)
        arn = FN + raw_name
        return FunctionInfo(name, qualifier or None, arn, self.timeouts[name])


QUEUE_INFO = {Q + "q": QueueInfo("q", False, 30), Q + "f.fifo": QueueInfo("f.fifo", True, 30)}


async def find_queue(arn: str) -> QueueInfo | None:
    return QUEUE_INFO.get(arn)
