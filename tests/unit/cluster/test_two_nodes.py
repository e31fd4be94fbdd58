"""Two nodes' services on one database and one bus (a fake that delivers when told): what one node writes,
the other holds once the news is delivered, for every cache of control-plane state; and news of a node's own
write never takes back a newer write of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lambkin.events.mapping_service import MappingService, queue_lookup
from lambkin.events.mapping_store import MIGRATIONS as MAPPING_MIGRATIONS
from lambkin.events.mapping_store import MappingStore
from lambkin.functions import event_invoke_config, policies
from lambkin.functions import urls as function_urls
from lambkin.functions.changes import ConfigChange
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.event_invoke_config import EventInvokeConfigService
from lambkin.functions.names import FunctionRef
from lambkin.functions.policies import Permission
from lambkin.functions.repository import MIGRATIONS as FUNCTION_MIGRATIONS
from lambkin.identity import iam_store
from lambkin.identity.iam import Change, Iam
from lambkin.identity.iam_attachments import Attachments
from lambkin.identity.iam_errors import DeleteConflict, EntityAlreadyExists, LimitExceeded
from lambkin.identity.iam_policies import Policies
from lambkin.identity.iam_roles import Roles
from lambkin.identity.iam_users import Users
from lambkin.invoke.targets import Targets
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.store import Store
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.bus import FakeBus
from lambkin.testing.clock import ManualClock
from lambkin.testing.images import FakeImageResolver
from tests.unit.events.fakes import QUEUE_INFO, Functions, find_queue

ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LOGS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
)


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two nodes' connections to one database."""
    path = tmp_path / "shared.db"
    first = SqliteStore(path)
    first.migrate(
        FUNCTION_MIGRATIONS
        + policies.MIGRATIONS
        + function_urls.MIGRATIONS
        + event_invoke_config.MIGRATIONS
        + MAPPING_MIGRATIONS
        + iam_store.MIGRATIONS
    )
    second = SqliteStore(path)
    yield first, second
    first.close()
    second.close()


# functions: versions, aliases, settings, Targets, event invoke configs, policies, URLs


def plane(db: Store, bus: FakeBus) -> ControlPlane:
    resolver = FakeImageResolver()
    resolver.tags["reg/app:v1"] = "sha256:" + "1" * 64
    return build_control_plane(
        db,
        "us-east-1",
        ACCOUNT,
        resolver,
        role_check=lambda role: role == ROLE,
        architecture="x86_64",
        bus=bus,
    )


@pytest.fixture
async def planes(stores: tuple[Store, Store], bus: FakeBus) -> tuple[ControlPlane, ControlPlane]:
    here, there = plane(stores[0], bus), plane(stores[1], bus)
    await here.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(timeout=3))
    await here.worker.settle("fn", "$LATEST")
    bus.deliver()
    return here, there


async def test_a_configuration_changed_on_one_node_is_what_the_other_invokes(
    planes: tuple[ControlPlane, ControlPlane], bus: FakeBus
) -> None:
    here, there = planes
    targets = Targets(there.functions)
    assert (await targets.resolve("fn", None)).version.timeout == 3  # now cached there
    await here.functions.update_configuration(FunctionRef("fn"), ConfigChange(timeout=9), None)
    assert (await targets.resolve("fn", None)).version.timeout == 3  # no news yet
    assert bus.deliver() == [("functions", "fn")]
    assert (await targets.resolve("fn", None)).version.timeout == 9


async def test_an_alias_and_reserved_concurrency_set_on_one_node_are_seen_on_the_other(
    planes: tuple[ControlPlane, ControlPlane], bus: FakeBus
) -> None:
    here, there = planes
    await here.functions.publish(FunctionRef("fn"), None, None, None)
    targets = Targets(there.functions)
    with pytest.raises(Exception, match="live"):
        await targets.resolve("fn", "live")
    _, _, record = await there.functions.get(FunctionRef("fn"))  # now cached there
    assert record.reserved_concurrency is None
    await here.aliases.create(FunctionRef("fn"), "live", "1", None, None)
    await here.account.put_concurrency(FunctionRef("fn"), 7)
    bus.deliver()
    target = await targets.resolve("fn", "live")
    assert target.version.version == "1"
    _, _, record = await there.functions.get(FunctionRef("fn"))
    assert record.reserved_concurrency == 7


async def test_an_event_invoke_config_put_on_one_node_is_what_the_others_dispatcher_reads(
    planes: tuple[ControlPlane, ControlPlane], bus: FakeBus, stores: tuple[Store, Store]
) -> None:
    here, there = planes
    configs_here = EventInvokeConfigService(stores[0], here.arns, here.functions)
    configs_there = EventInvokeConfigService(stores[1], there.arns, there.functions)
    assert await configs_there.effective("fn", None) is None  # now cached there
    await configs_here.put("fn", None, 0, None, None)
    bus.deliver()
    found = await configs_there.effective("fn", None)
    assert found is not None and found.max_retries == 0


async def test_a_permission_added_on_one_node_is_in_the_others_policy(
    planes: tuple[ControlPlane, ControlPlane], bus: FakeBus
) -> None:
    here, there = planes
    await here.functions.publish(FunctionRef("fn"), None, None, None)
    permission = Permission("s1", "lambda:InvokeFunction", "events.amazonaws.com")
    await here.policies.add(FunctionRef("fn", "1"), permission, None)
    await here.policies.add(FunctionRef("fn"), permission, None)
    assert there.policies.text("fn", "1") is None
    bus.deliver()
    await there.policies.refresh.step()
    assert "s1" in (there.policies.text("fn", "1") or "")
    assert "s1" in (there.policies.text("fn", None) or "")
    await here.policies.forget(FunctionRef("fn", "1"))
    bus.deliver()
    await there.policies.refresh.step()
    assert there.policies.text("fn", "1") is None
    assert there.policies.text("fn", None) is not None


async def test_a_url_config_changed_on_one_node_is_what_the_others_front_door_finds(
    planes: tuple[ControlPlane, ControlPlane], bus: FakeBus, stores: tuple[Store, Store]
) -> None:
    here, there = planes
    urls_here = function_urls.UrlService(stores[0], here.arns, bus=bus)
    urls_there = function_urls.UrlService(stores[1], there.arns, bus=bus)
    created = await urls_here.create(FunctionRef("fn"), "NONE", None, None)
    bus.deliver()
    found = await urls_there.by_id(created.url_id)
    assert found is not None and found.auth_type == "NONE"  # now remembered there
    await urls_here.update(FunctionRef("fn"), "AWS_IAM", None, None)
    bus.deliver()
    found = await urls_there.by_id(created.url_id)
    assert found is not None and found.auth_type == "AWS_IAM"
    await here.functions.delete(FunctionRef("fn"))  # its URL goes with it (the foreign key cascades)
    bus.deliver()
    assert await urls_there.by_id(created.url_id) is None


# IAM


@pytest.fixture
def iams(stores: tuple[Store, Store], bus: FakeBus) -> tuple[Iam, Iam]:
    nodes = (
        Iam(stores[0], ACCOUNT, lambda text, kind: None, bus=bus),
        Iam(stores[1], ACCOUNT, lambda text, kind: None, bus=bus),
    )
    for node in nodes:
        node.load()
    return nodes


async def test_a_role_created_on_one_node_is_in_the_others_directory(
    iams: tuple[Iam, Iam], bus: FakeBus
) -> None:
    here, there = iams
    role = await Roles(here).create("app", TRUST)
    before = there.generation
    assert there.role(role.arn) is None
    bus.deliver()
    await there.refresh.step()
    found = there.role(role.arn)
    assert found is not None and found.role_id == role.role_id
    assert there.generation != before  # the authorizer's cached decisions go with it
    await Roles(here).delete("app")
    bus.deliver()
    await there.refresh.step()
    assert there.role(role.arn) is None


async def test_a_users_key_and_policies_written_on_one_node_sign_and_count_on_the_other(
    iams: tuple[Iam, Iam], bus: FakeBus
) -> None:
    here, there = iams
    await Users(here).create("alice")
    key = await Users(here).create_key("alice")
    await Attachments(here).put_inline("user", "alice", "logs", LOGS)
    bus.deliver()
    await there.refresh.step()
    found = there.access_key(key.access_key_id)
    assert found is not None and found.active and found.user.name == "alice"
    assert there.identity_policies(found.user) == [LOGS]
    await Users(here).update_key("alice", key.access_key_id, active=False)
    bus.deliver()
    await there.refresh.step()
    again = there.access_key(key.access_key_id)
    assert again is not None and not again.active


async def test_a_write_on_a_node_that_has_not_heard_the_news_yet_starts_from_the_database(
    iams: tuple[Iam, Iam],
) -> None:
    """Through a load balancer, the next call after a write may reach a node the bus has not told yet: it is
    neither refused (the role is there) nor does it undo the other node's write (the policy attached there)."""
    here, there = iams
    await Roles(here).create("app", TRUST)
    await Attachments(there).attach("role", "app", BASIC)  # no news delivered: read from the database
    await Attachments(here).put_inline("role", "app", "logs", LOGS)  # here never heard of the attachment
    await Roles(there).tag("app", [("team", "a")])
    assert Roles(here).get("app").tags == ()  # its memory, until the news comes; the database has it all:
    stored = here.db.run_sync(iam_store.load).roles["app"]
    assert stored.attached == (BASIC,) and stored.inline == {"logs": LOGS} and stored.tags == (("team", "a"),)
    await Users(here).create("alice")
    key = await Users(here).create_key("alice")
    await Users(there).update_key("alice", key.access_key_id, active=False)  # a key it never heard of
    assert not here.db.run_sync(iam_store.load).keys[key.access_key_id].active


async def test_limits_and_conflicts_count_what_another_node_wrote_before_its_news(
    iams: tuple[Iam, Iam],
) -> None:
    """A user's third key, the deletion of a user with keys and of a policy attached elsewhere are refused
    on a node that has not heard of the keys or the attachment yet (no news delivered here)."""
    here, there = iams
    await Users(here).create("alice")
    await Users(here).create_key("alice")
    await Users(here).create_key("alice")
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for AccessKeysPerUser: 2"):
        await Users(there).create_key("alice")
    with pytest.raises(DeleteConflict):
        await Users(there).delete("alice")
    policy = await Policies(here).create("logs", LOGS)
    await Roles(here).create("app", TRUST)
    await Attachments(here).attach("role", "app", policy.arn)
    with pytest.raises(DeleteConflict, match=r"Cannot delete a policy attached to entities\."):
        await Policies(there).delete(policy.arn)
    assert len(here.db.run_sync(iam_store.load).keys) == 2


async def test_two_nodes_adding_a_key_at_once_keep_the_user_within_its_quota(iams: tuple[Iam, Iam]) -> None:
    await keys_added_at_once(*iams)


async def keys_added_at_once(here: Iam, there: Iam) -> None:
    """A node counts a user's keys as it reads them, then stores its new key: another node's key stored
    in between is counted by the write itself, and the key past the quota is refused."""
    await Users(here).create("alice")
    await Users(here).create_key("alice")
    commit = there.commit

    async def meanwhile(change: Change) -> None:  # after there counted one key, before it stores its own
        there.commit = commit  # type: ignore[method-assign]
        await Users(here).create_key("alice")
        await commit(change)

    there.commit = meanwhile  # type: ignore[method-assign]
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for AccessKeysPerUser: 2"):
        await Users(there).create_key("alice")
    stored = here.db.run_sync(iam_store.load).keys.values()
    assert [key.user_name for key in stored] == ["alice", "alice"]
    assert len(Users(there).keys("alice", None, None)[0]) == 1  # (what there had heard of: nothing new)


async def test_after_lost_news_a_node_reads_all_of_iam_again(iams: tuple[Iam, Iam], bus: FakeBus) -> None:
    here, there = iams
    await Roles(here).create("app", TRUST)
    bus.announced.clear()  # the news never came
    bus.lost()
    await there.refresh.step()
    assert Roles(there).get("app").name == "app"


# event source mappings


async def test_a_mapping_created_on_one_node_is_held_and_wakes_the_others_supervisor(
    stores: tuple[Store, Store], bus: FakeBus
) -> None:
    clock = ManualClock(100.0)
    here = MappingService(MappingStore(stores[0], bus), Functions(), find_queue, "arn:esm:", clock)
    there = MappingService(MappingStore(stores[1], bus), Functions(), find_queue, "arn:esm:", clock)
    mapping = await here.create({"EventSourceArn": next(iter(QUEUE_INFO)), "FunctionName": "f"})
    bus.deliver()
    there.changed.clear()
    await there.refresh.step()
    assert there.get(mapping.uuid) == mapping
    assert there.changed.is_set()
    other = await here.create({"EventSourceArn": next(iter(QUEUE_INFO)), "FunctionName": "f:live"})
    assert await there.find(other.uuid) == other  # before its news
    await here.delete(mapping.uuid)
    await here.settle(mapping.uuid)  # the supervisor's last step removes it
    bus.deliver()
    await there.refresh.step()
    assert mapping.uuid not in there.mappings


# queues' metadata


@contextlib.asynccontextmanager
async def queue_node(path: Path, bus: FakeBus, clock: ManualClock) -> AsyncIterator[QueueService]:
    service = open_queue_service(SqliteStore(path), "us-east-1", "123456789012", clock, bus=bus)
    task = asyncio.create_task(service.journal.run())
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        service.db.close()


@pytest.fixture
async def queue_nodes(tmp_path: Path, bus: FakeBus) -> AsyncIterator[tuple[QueueService, QueueService]]:
    clock = ManualClock(1_000.0)
    async with (
        queue_node(tmp_path / "queues.db", bus, clock) as here,
        queue_node(tmp_path / "queues.db", bus, clock) as there,
    ):
        yield here, there


async def test_a_queue_created_changed_and_deleted_on_one_node_is_so_on_the_other(
    queue_nodes: tuple[QueueService, QueueService], bus: FakeBus
) -> None:
    here, there = queue_nodes
    await here.registry.create("jobs", {"VisibilityTimeout": "45"}, {"team": "a"})
    bus.deliver()
    await there.refresh.step()
    assert sorted(there.registry.queues) == ["jobs"]
    assert there.registry.attributes("jobs", ["VisibilityTimeout"]) == {"VisibilityTimeout": "45"}
    await here.registry.add_permission("jobs", "p", [ACCOUNT], ["SendMessage"])
    await here.registry.tag("jobs", {"team": "b"})
    bus.deliver()
    await there.refresh.step()
    policy = there.registry.get("jobs").config.policy
    assert policy is not None and "SendMessage" in policy
    assert there.registry.get("jobs").tags == {"team": "b"}
    await here.registry.delete("jobs")
    bus.deliver()
    await there.refresh.step()
    assert sorted(there.registry.queues) == []


async def test_a_queue_created_on_one_node_is_found_for_a_mapping_on_the_other_before_its_news(
    queue_nodes: tuple[QueueService, QueueService],
) -> None:
    here, there = queue_nodes
    await here.registry.create("jobs", {"VisibilityTimeout": "45"}, {})
    found = await queue_lookup(there)(here.registry.arn("jobs"))
    assert found is not None and (found.name, found.visibility_timeout) == ("jobs", 45)
    assert await queue_lookup(there)(here.registry.arn("nope")) is None


async def test_news_of_an_earlier_write_does_not_take_back_a_later_one_of_the_same_node(
    queue_nodes: tuple[QueueService, QueueService], bus: FakeBus
) -> None:
    here, _ = queue_nodes
    await here.registry.create("jobs", {"VisibilityTimeout": "45"}, {})
    bus.deliver()
    await here.refresh.step()

    await here.registry.set_attributes("jobs", {"VisibilityTimeout": "50"})
    news = bus.deliver()
    assert news == [("queues", "jobs")]
    writes = here.registry.writes()
    later = asyncio.create_task(here.registry.set_attributes("jobs", {"VisibilityTimeout": "60"}))
    await asyncio.sleep(0)  # the later write has begun (memory first, then the journal)
    here.registry.apply("jobs", None, writes)  # a reload that read before it: not applied
    await later
    assert here.registry.attributes("jobs", ["VisibilityTimeout"]) == {"VisibilityTimeout": "60"}
    bus.deliver()
    await here.refresh.step()
    assert here.registry.attributes("jobs", ["VisibilityTimeout"]) == {"VisibilityTimeout": "60"}


async def test_a_role_created_on_another_node_not_yet_heard_of_is_refused_not_replaced(
    iams: tuple[Iam, Iam], bus: FakeBus
) -> None:
    here, there = iams
    first = await Roles(here).create("app", TRUST)
    await Users(here).create("bob")
    with pytest.raises(EntityAlreadyExists, match=r"Role with name APP already exists\."):
        await Roles(there).create("APP", TRUST)  # the news is not there yet: the database refuses it
    with pytest.raises(EntityAlreadyExists, match=r"User with name bob already exists\."):
        await Users(there).create("bob")
    bus.deliver()
    await there.refresh.step()
    assert there.role(first.arn) is not None
    assert Roles(there).get("app").role_id == first.role_id
