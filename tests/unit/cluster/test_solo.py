"""A server alone is a cluster of one: itself live and ready once started, every lease its own."""

from lambkin.cluster import DRAINING, READY, STARTING, solo


async def test_a_server_alone_is_its_own_cluster() -> None:
    cluster = solo("http://127.0.0.1:9000")
    membership = cluster.membership
    assert not cluster.clustered
    assert membership.state == STARTING
    assert membership.ready() == []
    changes: list[int] = []
    membership.on_change(lambda: changes.append(1))
    membership.set_state(READY)
    assert [node.name for node in membership.ready()] == [membership.name]
    assert changes == [1]
    lease = await cluster.leases.claim("queue:a")
    assert lease is not None and lease.holder == membership.name
    assert cluster.leases.held("queue:a") == lease
    assert await cluster.leases.holder("queue:a") == membership.name
    await cluster.leases.release("queue:a")
    assert cluster.leases.held("queue:a") is None


async def test_the_ready_list_is_the_same_until_the_view_changes() -> None:
    membership = solo("http://127.0.0.1:9000").membership
    membership.set_state(READY)
    ready = membership.ready()
    assert membership.ready() is ready  # what is worked out of it can be kept with it
    membership.set_state(DRAINING)
    assert membership.ready() is not ready and membership.ready() == []
