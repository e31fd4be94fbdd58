"""The Invoker's placement over a cluster with fake nodes and peers: where an invoke goes, the hop's wire form
both ways, spilling past a full node, and what the node publishes of its idle environments."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from lambkin.cluster.peers import PeerUnreachable
from lambkin.environments.results import FunctionError, Success
from lambkin.invoke import forward
from lambkin.invoke.concurrency import RESERVED_LIMIT, Throttled
from lambkin.invoke.forward import Forwarder, RemoteError
from lambkin.invoke.invoker import InvokeRequest, InvokeResult
from lambkin.invoke.placement import WARM, warm_key
from lambkin.invoke.targets import FunctionGone
from lambkin.testing.nodes import FakeNodes, Node
from lambkin.testing.versions import FakeVersion


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    async def read(self) -> bytes:
        return self.body


class FakePeers:
    """Answers each node's hops with what `answers[node]` says: a Reply, or an exception to raise."""

    def __init__(self, answers: dict[str, Reply | Exception]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, dict[str, str], bytes]] = []

    async def request(
        self,
        node: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[bytes] = b"",
        timeout_s: float | None = None,
    ) -> Reply:
        assert isinstance(body, bytes) and target == forward.PATH
        self.asked.append((node, dict(headers or {}), body))
        answer = self.answers[node]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakePools:
    def __init__(self, idle: list[FakeVersion] | None = None) -> None:
        self.idle = idle or []

    def has_idle(self, version: FakeVersion) -> bool:
        return version in self.idle

    def idle_versions(self) -> list[FakeVersion]:
        return self.idle


def by_name(key: str, names: Sequence[str]) -> list[str]:
    """A stand-in for rendezvous: the names in order."""
    return sorted(names)


def ok(payload: bytes, tail: bytes = b"") -> Reply:
    headers, body = forward.encode_result(InvokeResult("r", Success(payload), tail))
    return Reply(200, {k.lower(): v for k, v in headers}, body)


FULL = Reply(503, {forward.FULL: "1"}, b"")


def placed(
    me: str, ready: list[Node], answers: dict[str, Reply | Exception], idle: bool = False
) -> Forwarder:
    pools = FakePools([FakeVersion()] if idle else [])
    return Forwarder(FakeNodes(me, ready), FakePeers(answers), pools, by_name)  # type: ignore[arg-type]


def request(**extra: Any) -> InvokeRequest:
    return InvokeRequest(b'{"n": 1}', FakeVersion().function_arn, request_id="req-1", **extra)


async def test_an_idle_environment_here_means_no_hop() -> None:
    forwarder = placed("b", [Node("a"), Node("b")], {}, idle=True)
    assert await forwarder.elsewhere(FakeVersion(), request()) is None


async def test_alone_in_the_cluster_nothing_is_forwarded() -> None:
    forwarder = placed("a", [Node("a")], {})
    assert await forwarder.elsewhere(FakeVersion(), request()) is None


async def test_the_node_that_published_an_idle_environment_runs_it() -> None:
    key = warm_key(FakeVersion())
    forwarder = placed("a", [Node("a"), Node("b"), Node("c", {WARM: [key]})], {"c": ok(b'"hi"', b"TAIL")})
    result = await forwarder.elsewhere(FakeVersion(), request(log_tail=True, trace_id="Root=1"))
    assert result == InvokeResult("req-1", Success(b'"hi"'), b"TAIL")
    [(node, headers, body)] = forwarder.peers.asked  # type: ignore[attr-defined]
    assert node == "c" and body == b'{"n": 1}'
    name, version, sent = forward.decode_request(headers, body)
    assert (name, version) == (FakeVersion().name, FakeVersion().version)
    assert (sent.request_id, sent.trace_id, sent.log_tail) == ("req-1", "Root=1", True)


async def test_a_full_home_spills_to_the_next_and_then_here() -> None:
    forwarder = placed("c", [Node("a"), Node("b"), Node("c")], {"a": FULL, "b": ok(b"1")})
    assert await forwarder.elsewhere(FakeVersion(), request()) == InvokeResult("req-1", Success(b"1"), b"")
    forwarder = placed("c", [Node("a"), Node("b"), Node("c")], {"a": FULL, "b": PeerUnreachable("b", "gone")})
    assert await forwarder.elsewhere(FakeVersion(), request()) is None


async def test_a_home_that_is_this_node_runs_it_here() -> None:
    forwarder = placed("a", [Node("a"), Node("b")], {})
    assert await forwarder.elsewhere(FakeVersion(), request()) is None


async def test_a_function_error_crosses_the_hop_as_it_was() -> None:
    error = FunctionError("Runtime.ExitError", b'{"errorType":"Runtime.ExitError"}')
    headers, body = forward.encode_result(InvokeResult("r", error, b"END"))
    reply = Reply(200, {k.lower(): v for k, v in headers}, body)
    forwarder = placed("b", [Node("a"), Node("b")], {"a": reply})
    assert await forwarder.elsewhere(FakeVersion(), request()) == InvokeResult("req-1", error, b"END")


@pytest.mark.parametrize(
    ("error", "kind"),
    [(Throttled(RESERVED_LIMIT), Throttled), (FunctionGone("Function not found: x"), FunctionGone)],
)
async def test_domain_errors_there_are_raised_here(error: Exception, kind: type[Exception]) -> None:
    status, body = forward.encode_error(error)
    forwarder = placed("b", [Node("a"), Node("b")], {"a": Reply(status, {forward.ERROR: "1"}, body)})
    with pytest.raises(kind) as raised:
        await forwarder.elsewhere(FakeVersion(), request())
    assert str(raised.value) == str(error)


async def test_another_domain_error_keeps_its_code_message_and_fields() -> None:
    class Refused(Exception):
        code = "AccessDeniedException"
        message = "The role cannot be assumed"
        fields = {"Type": "User"}

    status, body = forward.encode_error(Refused())
    assert status == 400
    error = forward.decode_error(status, body)
    assert isinstance(error, RemoteError)
    assert (error.code, error.message, error.status, error.fields) == (
        "AccessDeniedException",
        "The role cannot be assumed",
        None,
        {"Type": "User"},
    )


def test_an_internal_failure_there_is_a_service_exception() -> None:
    status, body = forward.encode_error(RuntimeError("boom"))
    assert status == 500
    assert forward.decode_error(status, body).code == "ServiceException"  # type: ignore[attr-defined]


async def test_the_idle_versions_are_published_when_they_change() -> None:
    forwarder = placed("a", [Node("a")], {}, idle=True)
    task = asyncio.ensure_future(forwarder.run())
    await asyncio.sleep(0)
    assert forwarder.nodes.published[WARM] == [warm_key(FakeVersion())]  # type: ignore[attr-defined]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_placement_is_worked_out_again_when_the_view_or_the_version_changes() -> None:
    nodes = FakeNodes("b", [Node("a"), Node("b")])
    forwarder = Forwarder(nodes, FakePeers({}), FakePools([]), by_name)  # type: ignore[arg-type]
    version = FakeVersion()
    assert forwarder.peers_for(version) == ("a",)  # its home
    assert forwarder.peers_for(version) == ("a",)  # (remembered for this view and version)
    nodes._ready = [Node("b"), Node("c", {WARM: [warm_key(version)]})]  # a new view: a gone, c warm
    assert forwarder.peers_for(version) == ("c",)
    updated = FakeVersion(revision_id="r2")  # c's idle environment is of the revision before
    assert forwarder.peers_for(updated) == ()  # its home is this node now
