"""Nodes on a real PostgreSQL: heartbeats make a shared view, a silent node is gone and its leases are taken,
a fenced write of a node that lost its lease fails, news of a change reaches every node after commit."""

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambkin.cluster import READY, LeaseLost, join
from lambkin.cluster.leases import ClusterLeases
from lambkin.cluster.membership import ClusterMembership
from lambkin.cluster.owners import Here, Owners
from lambkin.config import Settings
from lambkin.credentials import Credentials
from lambkin.store import Connection, Store
from lambkin.store.postgres import PostgresStore
from tests import postgres


@pytest.fixture
def database() -> str:
    return postgres.shared().create_database()


@pytest.fixture
def stores(database: str) -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def _node(database: str, stores: list[Store], name: str, tmp_path: Path, gone_after_s: float = 10.0):  # type: ignore[no-untyped-def]
    settings = Settings(
        data_dir=tmp_path / name,
        credentials=Credentials("AKID", "secret"),
        database_url=database,
        node_name=name,
        advertise=f"http://127.0.0.1:1{len(stores)}",
        node_gone_after_s=gone_after_s,
        heartbeat_s=0.1,
    )
    store = PostgresStore(database, "cluster")
    stores.append(store)
    return join(settings, store)


async def test_beating_nodes_see_each_other_and_their_states(database, stores, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = _node(database, stores, "a", tmp_path), _node(database, stores, "b", tmp_path)
    ma, mb = a.membership, b.membership
    assert isinstance(ma, ClusterMembership) and isinstance(mb, ClusterMembership)
    ma.publish("warm", ["fn:1"])
    await ma.beat()
    await mb.beat()
    assert [n.name for n in mb.live()] == ["a", "b"]
    assert mb.ready() == []  # both still starting
    ma.set_state(READY)
    await ma.beat()
    await mb.beat()
    assert [n.name for n in mb.ready()] == ["a"]
    assert mb.node("a").extra == {"warm": ["fn:1"]}  # type: ignore[union-attr]
    assert mb.node("a").url == "http://127.0.0.1:10"  # type: ignore[union-attr]


async def test_a_node_ready_a_moment_ago_counts_itself_ready_before_its_next_beat(  # type: ignore[no-untyped-def]
    database, stores, tmp_path
) -> None:
    a = _node(database, stores, "a", tmp_path)
    ma = a.membership
    assert isinstance(ma, ClusterMembership)
    await ma.beat()
    assert ma.ready() == []

    ma.set_state(READY)  # the server has started; its heartbeat has not been written since

    assert [n.name for n in ma.ready()] == ["a"]
    place = await Owners("queue", ma, a.leases).place("q", relayed=False)
    assert isinstance(place, Here)  # its work is served here, not refused as nobody's
    await ma.refresh()  # a read of the row written while starting does not take it back
    assert [n.name for n in ma.ready()] == ["a"]


async def test_a_node_reads_the_others_when_asked_without_writing_its_own_row(
    database, stores, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    a, b = _node(database, stores, "a", tmp_path), _node(database, stores, "b", tmp_path)
    ma, mb = a.membership, b.membership
    assert isinstance(ma, ClusterMembership) and isinstance(mb, ClusterMembership)
    await ma.beat()
    await mb.beat()  # b started after a's last beat: a has not heard of it
    assert [n.name for n in ma.live()] == ["a"]

    await ma.refresh()

    assert [n.name for n in ma.live()] == ["a", "b"]
    assert (ma.beats, mb.beats) == (1, 1)


async def test_a_lease_is_one_nodes_until_that_node_is_gone(database, stores, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = _node(database, stores, "a", tmp_path, gone_after_s=0.5)
    b = _node(database, stores, "b", tmp_path, gone_after_s=0.5)
    for node in (a, b):
        await node.membership.beat()  # type: ignore[attr-defined]
    held = await a.leases.claim("queue:q")
    assert held is not None and held.holder == "a"
    assert await b.leases.claim("queue:q") is None  # a is live
    assert await b.leases.holder("queue:q") == "a"
    assert await a.leases.claim("queue:q") == held  # claiming again keeps the epoch
    await asyncio.sleep(0.7)  # a stops beating: gone
    await b.membership.beat()  # type: ignore[attr-defined]
    assert await b.leases.holder("queue:q") is None
    taken = await b.leases.claim("queue:q")
    assert taken is not None and taken.holder == "b" and taken.epoch == held.epoch + 1


async def test_a_node_that_lost_its_lease_cannot_write_and_hears_of_it(database, stores, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = _node(database, stores, "a", tmp_path, gone_after_s=0.5)
    b = _node(database, stores, "b", tmp_path, gone_after_s=0.5)
    await a.membership.beat()  # type: ignore[attr-defined]
    held = await a.leases.claim("async:fn")
    assert held is not None
    store = stores[0]

    def fenced_write(conn: Connection) -> None:
        a.leases.fence(conn, held)

    await store.run(fenced_write)  # still a's: the write goes through
    await asyncio.sleep(0.7)
    await b.membership.beat()  # type: ignore[attr-defined]
    assert await b.leases.claim("async:fn") is not None
    with pytest.raises(LeaseLost):
        await store.run(fenced_write)
    lost: list[str] = []
    a.leases.on_lost(lost.append)
    assert isinstance(a.leases, ClusterLeases)
    await a.leases.check()
    assert lost == ["async:fn"] and a.leases.held("async:fn") is None


async def test_a_restarted_node_does_not_inherit_its_old_incarnations_leases_silently(  # type: ignore[no-untyped-def]
    database, stores, tmp_path
) -> None:
    old = _node(database, stores, "a", tmp_path)
    await old.membership.beat()  # type: ignore[attr-defined]
    first = await old.leases.claim("queue:q")
    new = _node(database, stores, "a", tmp_path)  # same name, after a kill -9
    await new.membership.beat()  # type: ignore[attr-defined]
    again = await new.leases.claim("queue:q")
    assert first is not None and again is not None and again.epoch == first.epoch + 1


async def test_news_of_a_change_reaches_every_node_only_when_committed(database, stores, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = _node(database, stores, "a", tmp_path), _node(database, stores, "b", tmp_path)
    heard: dict[str, list[str]] = {"a": [], "b": []}
    a.bus.subscribe("function", heard["a"].append)
    b.bus.subscribe("function", heard["b"].append)
    runs = [asyncio.create_task(a.bus.run()), asyncio.create_task(b.bus.run())]
    try:
        for bus in (a.bus, b.bus):
            await asyncio.wait_for(bus.listening.wait(), 10)  # type: ignore[attr-defined]
        store = stores[0]

        def rolled_back(conn: Connection) -> None:
            a.bus.announce(conn, "function", "never")
            raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await store.run(rolled_back)
        await store.run(lambda conn: a.bus.announce(conn, "function", "fn-1"))
        for _ in range(100):
            if "fn-1" in heard["a"] and "fn-1" in heard["b"]:
                break
            await asyncio.sleep(0.02)
        # "*" first: what was loaded before LISTEN began may have missed news
        assert heard == {"a": ["*", "fn-1"], "b": ["*", "fn-1"]}
    finally:
        for run in runs:
            run.cancel()


def test_a_cluster_needs_postgresql_and_a_fit_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lambkin.cluster import node_name
    from lambkin.config import SettingInvalid

    settings = Settings(data_dir=tmp_path, credentials=Credentials("AKID", "secret"), node_name="a")
    with pytest.raises(SettingInvalid, match="needs LAMBKIN_DATABASE_URL"):
        node_name(settings)
    bad = dataclasses.replace(settings, database_url="postgresql://x", node_name="a b")
    with pytest.raises(SettingInvalid, match="letters, digits"):
        node_name(bad)


async def test_two_nodes_adding_a_key_at_once_keep_the_user_within_its_quota(database, stores) -> None:  # type: ignore[no-untyped-def]
    """As on SQLite (test_two_nodes.py), with the user's row locked by the write that counts its keys."""
    from lambkin.identity import iam_store
    from lambkin.identity.iam import Iam
    from tests.unit.cluster.test_two_nodes import keys_added_at_once

    nodes = []
    for name in ("iam-a", "iam-b"):
        store = PostgresStore(database, name)
        stores.append(store)
        store.migrate(iam_store.MIGRATIONS)
        node = Iam(store, "000000000000", lambda text, kind: None)
        node.load()
        nodes.append(node)
    await keys_added_at_once(*nodes)
