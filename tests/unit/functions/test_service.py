"""The control plane's services against a real SQLite database and a fake image resolver."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambkin.functions import policies, worker
from lambkin.functions.changes import ConfigChange
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.errors import (
    FunctionNotFound,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
)
from lambkin.functions.model import FunctionVersion
from lambkin.functions.names import FunctionRef
from lambkin.functions.repository import MIGRATIONS
from lambkin.functions.states import State, UpdateStatus
from lambkin.invoke.targets import Target, Targets
from lambkin.store import Store, StoreUnavailable
from lambkin.store.sqlite import SqliteStore
from lambkin.testing.images import FakeImageResolver, ResolvedImage

ROLE = "arn:aws:iam::000000000000:role/r"
UNTRUSTING = "arn:aws:iam::000000000000:role/untrusting"


def assumable(role: str) -> bool:
    """Identity's answer, as a table: Lambda may assume ROLE and nothing else."""
    return role == ROLE


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    database = SqliteStore(tmp_path / "test.db")
    database.migrate(MIGRATIONS + policies.MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def resolver() -> FakeImageResolver:
    fake = FakeImageResolver()
    fake.tags["reg/app:v1"] = "sha256:" + "1" * 64
    fake.tags["reg/app:v2"] = "sha256:" + "2" * 64
    return fake


@pytest.fixture
def cp(db: Store, resolver: FakeImageResolver) -> ControlPlane:
    return build_control_plane(
        db, "us-east-1", "000000000000", resolver, role_check=assumable, architecture="x86_64"
    )


async def resolve(
    cp: ControlPlane, name: str, qualifier: str | None = None, draw: Callable[[], float] = random.random
) -> Target:
    """What an invoke of `name` runs, through the one resolver the invoke paths use."""
    return await Targets(cp.functions, draw).resolve(name, qualifier)


async def active(cp: ControlPlane, name: str, image: str = "reg/app:v1", **change: Any) -> None:
    await cp.functions.create(name, ROLE, image, ConfigChange(**change))
    await cp.worker.settle(name, "$LATEST")


async def test_create_is_pending_then_active_with_digest(cp: ControlPlane) -> None:
    created = await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(memory_size=256))
    assert created.state is State.PENDING
    assert created.state_reason_code == "Creating"
    with pytest.raises(ResourceConflict, match="following state: Pending"):
        await resolve(cp, "fn")
    done = await cp.worker.settle("fn", "$LATEST")
    assert done is not None
    assert done.state is State.ACTIVE
    assert done.last_update_status is UpdateStatus.SUCCESSFUL
    assert done.code_sha256 == "1" * 64
    assert done.resolved_image_uri == "reg/app@sha256:" + "1" * 64
    target = await resolve(cp, "fn")
    assert (target.version.memory_size, target.executed_version) == (256, "$LATEST")


async def test_unresolvable_image_ends_failed(cp: ControlPlane) -> None:
    await cp.functions.create("fn", ROLE, "reg/missing:v1", ConfigChange())
    failed = await cp.worker.settle("fn", "$LATEST")
    assert failed is not None
    assert failed.state is State.FAILED
    assert failed.state_reason_code == "ImageDeleted"
    assert "reg/missing:v1" in (failed.state_reason or "")
    with pytest.raises(ResourceConflict, match="following state: Failed"):
        await cp.functions.publish(FunctionRef("fn"), None, None, None)


async def test_duplicate_create_conflicts(cp: ControlPlane) -> None:
    await active(cp, "fn")
    with pytest.raises(ResourceConflict, match="Function already exist: fn"):
        await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange())


async def test_a_role_lambda_cannot_assume_is_refused_on_create_and_on_update(cp: ControlPlane) -> None:
    message = re.escape("The role defined for the function cannot be assumed by Lambda.")
    with pytest.raises(InvalidParameterValue, match=message):
        await cp.functions.create("fn", UNTRUSTING, "reg/app:v1", ConfigChange())
    await active(cp, "fn")
    with pytest.raises(InvalidParameterValue, match=message):
        await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(role=UNTRUSTING), None)
    latest, _, _ = await cp.functions.get(FunctionRef("fn"))
    assert latest.role == ROLE


async def test_update_code_pins_the_digest_and_keeps_old_code_until_done(
    cp: ControlPlane, resolver: FakeImageResolver
) -> None:
    await active(cp, "fn")
    updating = await cp.functions.update_code(FunctionRef("fn"), "reg/app:v2")
    assert updating.last_update_status is UpdateStatus.IN_PROGRESS
    running = (await resolve(cp, "fn")).version
    assert running.code_sha256 == "1" * 64
    with pytest.raises(ResourceConflict, match="An update is in progress"):
        await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(timeout=5), None)
    await cp.worker.settle("fn", "$LATEST")
    resolver.tags["reg/app:v2"] = "sha256:" + "3" * 64  # retagging later changes nothing
    version, _, _ = await cp.functions.get(FunctionRef("fn"))
    assert version.code_sha256 == "2" * 64
    assert version.image_uri == "reg/app:v2"


async def test_failed_update_keeps_the_function_active(cp: ControlPlane) -> None:
    await active(cp, "fn")
    await cp.functions.update_code(FunctionRef("fn"), "reg/nope:v9")
    after = await cp.worker.settle("fn", "$LATEST")
    assert after is not None
    assert (after.state, after.last_update_status) == (State.ACTIVE, UpdateStatus.FAILED)
    assert after.last_update_status_reason_code == "ImageDeleted"
    assert after.code_sha256 == "1" * 64


async def test_revision_id_guards_updates(cp: ControlPlane) -> None:
    await active(cp, "fn")
    version, _, _ = await cp.functions.get(FunctionRef("fn"))
    with pytest.raises(PreconditionFailed):
        await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(timeout=9), "stale")
    updated = await cp.functions.update_configuration(
        FunctionRef("fn"), ConfigChange(timeout=9), version.revision_id
    )
    assert updated.timeout == 9
    assert updated.revision_id != version.revision_id


async def test_publish_only_when_something_changed(cp: ControlPlane) -> None:
    await active(cp, "fn")
    first = await cp.functions.publish(FunctionRef("fn"), None, None, None)
    again = await cp.functions.publish(FunctionRef("fn"), None, None, None)
    assert (first.version, again.version) == ("1", "1")
    await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(memory_size=512), None)
    second = await cp.functions.publish(FunctionRef("fn"), None, "two", None)
    assert (second.version, second.description, second.memory_size) == ("2", "two", 512)
    with pytest.raises(InvalidParameterValue, match="CodeSHA256"):
        await cp.functions.publish(FunctionRef("fn"), "0" * 64, None, None)


async def test_publish_with_code_update(cp: ControlPlane) -> None:
    await active(cp, "fn")
    await cp.functions.update_code(FunctionRef("fn"), "reg/app:v2", publish=True)
    await cp.worker.settle("fn", "$LATEST")
    page = await cp.functions.list_versions(FunctionRef("fn"), None, None)
    assert [(v.version, v.code_sha256[:1]) for v in page.items] == [("$LATEST", "2"), ("1", "2")]


async def test_aliases_route_and_protect_their_versions(cp: ControlPlane, db: Store) -> None:
    await active(cp, "fn")
    await cp.functions.publish(FunctionRef("fn"), None, None, None)
    await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(timeout=7), None)
    await cp.functions.publish(FunctionRef("fn"), None, None, None)
    await cp.aliases.create(FunctionRef("fn"), "live", "1", "", {"2": 0.5})
    executed = (await resolve(cp, "fn", "live", draw=lambda: 0.1)).executed_version
    assert executed == "2"
    executed = (await resolve(cp, "fn:live", draw=lambda: 0.9)).executed_version
    assert executed == "1"
    with pytest.raises(ResourceConflict, match=r"aliases reference it: \[live\]"):
        await cp.functions.delete(FunctionRef("fn", "2"))
    with pytest.raises(InvalidParameterValue, match=r"\$LATEST version cannot be deleted"):
        await cp.functions.delete(FunctionRef("fn", "$LATEST"))
    with pytest.raises(FunctionNotFound):
        await cp.aliases.create(FunctionRef("fn"), "bad", "9", "", {})


async def test_reserved_concurrency_keeps_100_unreserved(cp: ControlPlane) -> None:
    await active(cp, "a")
    await active(cp, "b")
    assert await cp.account.put_concurrency(FunctionRef("a"), 800) == 800
    with pytest.raises(InvalidParameterValue, match=r"minimum value of \[100\]"):
        await cp.account.put_concurrency(FunctionRef("b"), 101)
    settings = await cp.account.settings()
    assert (settings.unreserved_concurrent_executions, settings.function_count) == (200, 2)
    version = (await resolve(cp, "a")).version
    assert version.reserved_concurrency == 800


async def test_listing_pages_in_name_order(cp: ControlPlane) -> None:
    for index in range(5):
        await cp.functions.create(f"fn{index}", ROLE, "reg/app:v1", ConfigChange())
    first = await cp.functions.list(None, 2, False)
    second = await cp.functions.list(first.next_marker, 2, False)
    third = await cp.functions.list(second.next_marker, 2, False)
    names = [v.name for page in (first, second, third) for v in page.items]
    assert names == [f"fn{i}" for i in range(5)]
    assert third.next_marker is None


async def test_a_listing_read_again_shows_every_write_since(cp: ControlPlane) -> None:
    await active(cp, "fn")
    await active(cp, "other")
    assert [v.memory_size for v in (await cp.functions.list(None, None, False)).items] == [128, 128]
    await cp.functions.update_configuration(FunctionRef("other"), ConfigChange(memory_size=256), None)
    await cp.account.put_concurrency(FunctionRef("fn"), 5)
    listed = (await cp.functions.list(None, None, False)).items
    assert [v.memory_size for v in listed] == [128, 256]
    assert [v.reserved_concurrency for v in listed] == [5, None]
    await cp.functions.delete(FunctionRef("fn"))
    assert [v.name for v in (await cp.functions.list(None, None, False)).items] == ["other"]


async def test_a_write_drops_only_the_listing_pages_that_hold_that_function(cp: ControlPlane) -> None:
    for name in ("a", "b", "c", "d", "e"):
        await active(cp, name)
    first = await cp.functions.list(None, 2, False)
    second = await cp.functions.list(first.next_marker, 2, False)
    assert [v.name for v in first.items + second.items] == ["a", "b", "c", "d"]
    await cp.functions.update_configuration(FunctionRef("e"), ConfigChange(memory_size=256), None)
    assert await cp.functions.list(None, 2, False) is first  # a, b and the c past it: e is not read
    assert [v.memory_size for v in (await cp.functions.list(second.next_marker, 2, False)).items] == [256]
    await cp.functions.create("bb", ROLE, "reg/app:v1", ConfigChange())  # where the first page ends
    assert [v.name for v in (await cp.functions.list(None, 2, False)).items] == ["a", "b"]
    again = await cp.functions.list(first.next_marker, 2, False)
    assert [v.name for v in again.items] == ["bb", "c"]
    await cp.functions.delete(FunctionRef("e"))
    await cp.functions.delete(FunctionRef("d"))  # the last page after "c" is gone: no marker leads to it
    assert (await cp.functions.list(first.next_marker, 2, False)).next_marker is None


async def test_a_version_published_after_the_marker_shows_on_the_next_page(cp: ControlPlane) -> None:
    await active(cp, "a")
    await active(cp, "b")
    first = await cp.functions.list(None, 1, True)
    following = await cp.functions.list(first.next_marker, 1, True)
    assert [(v.name, v.version) for v in first.items + following.items] == [
        ("a", "$LATEST"),
        ("b", "$LATEST"),
    ]
    await cp.functions.publish(FunctionRef("a"), None, None, None)
    following = await cp.functions.list(first.next_marker, 1, True)
    assert [(v.name, v.version) for v in following.items] == [("a", "1")]


async def test_pending_work_resumes_after_restart(db: Store, resolver: FakeImageResolver) -> None:
    before = build_control_plane(
        db, "us-east-1", "000000000000", resolver, role_check=assumable, architecture="x86_64"
    )
    await before.functions.create("fn", ROLE, "reg/app:v1", ConfigChange())
    after = build_control_plane(
        db, "us-east-1", "000000000000", resolver, role_check=assumable, architecture="x86_64"
    )
    busy = await db.run(after.worker.repo.busy)
    assert [(v.name, v.version) for v in busy] == [("fn", "$LATEST")]


async def test_reads_after_every_kind_of_write_see_it(cp: ControlPlane) -> None:
    await active(cp, "fn")
    assert (await cp.functions.get(FunctionRef("fn")))[0].timeout == 3
    await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(timeout=8), None)
    assert (await cp.functions.get(FunctionRef("fn")))[0].timeout == 8
    await cp.account.put_concurrency(FunctionRef("fn"), 3)
    assert (await resolve(cp, "fn")).version.reserved_concurrency == 3
    await cp.account.tag(cp.arns.function("fn"), {"k": "v"})
    assert dict((await cp.functions.get(FunctionRef("fn")))[2].tags) == {"k": "v"}
    await cp.functions.publish(FunctionRef("fn"), None, None, None)
    await cp.aliases.create(FunctionRef("fn"), "live", "1", "", {})
    assert (await resolve(cp, "fn", "live")).executed_version == "1"
    await cp.functions.update_configuration(FunctionRef("fn"), ConfigChange(timeout=9), None)
    await cp.functions.publish(FunctionRef("fn"), None, None, None)
    await cp.aliases.update(FunctionRef("fn"), "live", "2", None, None, None)
    assert (await resolve(cp, "fn", "live")).executed_version == "2"
    await cp.functions.delete(FunctionRef("fn"))
    with pytest.raises(FunctionNotFound):
        await cp.functions.get(FunctionRef("fn"))


async def test_create_with_publish_resolves_version_1_with_latest(cp: ControlPlane) -> None:
    first = await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange(), publish=True)
    assert (first.version, first.state) == ("1", State.PENDING)
    await cp.worker.settle("fn", "$LATEST")
    version, _, _ = await cp.functions.get(FunctionRef("fn", "1"))
    assert (version.state, version.code_sha256) == (State.ACTIVE, "1" * 64)
    assert await cp.worker.settle("fn", "1") is None  # nothing left to do


async def test_resumed_worker_settles_what_was_pending(db: Store, resolver: FakeImageResolver) -> None:
    before = build_control_plane(
        db, "us-east-1", "000000000000", resolver, role_check=assumable, architecture="x86_64"
    )
    await before.functions.create("fn", ROLE, "reg/app:v1", ConfigChange())
    after = build_control_plane(
        db, "us-east-1", "000000000000", resolver, role_check=assumable, architecture="x86_64"
    )
    for version in await db.run(after.worker.repo.busy):
        await after.worker.settle(version.name, version.version)
    settled, _, _ = await after.functions.get(FunctionRef("fn"))
    assert settled.state is State.ACTIVE


class GatedResolver(FakeImageResolver):
    """Holds every resolution until `gate` opens, and tells when one has started."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.started = asyncio.Event()

    async def resolve(self, image_uri: str, architecture: str | None = None) -> ResolvedImage:
        self.started.set()
        await self.gate.wait()
        return await super().resolve(image_uri, architecture)


async def test_run_settles_a_function_recreated_while_its_old_image_resolves(db: Store) -> None:
    resolver = GatedResolver()
    resolver.tags["reg/app:v1"] = "sha256:" + "1" * 64
    resolver.tags["reg/app:v2"] = "sha256:" + "2" * 64
    cp = build_control_plane(
        db, "us-east-1", "000000000000", resolver, role_check=assumable, architecture="x86_64"
    )
    settle, settled = cp.worker.settle, asyncio.Event()

    async def settle_and_tell(name: str, version: str) -> FunctionVersion | None:
        try:
            return await settle(name, version)
        finally:
            settled.set()

    cp.worker.settle = settle_and_tell  # type: ignore[method-assign]
    async with asyncio.TaskGroup() as group:
        running = group.create_task(cp.run())
        await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange())
        await resolver.started.wait()
        await cp.functions.delete(FunctionRef("fn"))
        await cp.functions.create("fn", ROLE, "reg/app:v2", ConfigChange())
        resolver.gate.set()
        async with asyncio.timeout(10):
            while True:
                settled.clear()
                if (await cp.functions.get(FunctionRef("fn")))[0].state is not State.PENDING:
                    break
                await settled.wait()  # until the worker finishes one more version: then look again
        running.cancel()
    settled, _, _ = await cp.functions.get(FunctionRef("fn"))
    assert (settled.state, settled.code_sha256) == (State.ACTIVE, "2" * 64)


async def test_a_version_whose_work_met_the_database_away_settles_once_it_is_back(
    db: Store, cp: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "STORE_RETRY_S", 0.01)
    await cp.functions.create("fn", ROLE, "reg/app:v1", ConfigChange())
    refused: list[str] = []
    run = db.run

    async def flaky(fn: Any) -> Any:
        if not refused and "settle" in fn.__qualname__:  # the worker's first unit of work for the version
            refused.append(fn.__qualname__)
            raise StoreUnavailable("the connection to it was lost")  # as PostgreSQL refuses while down
        return await run(fn)

    monkeypatch.setattr(db, "run", flaky)
    working = asyncio.create_task(cp.worker.run())
    try:
        for _ in range(3000):  # tried again by itself (bounded: a version never retried fails the test)
            if (await cp.functions.get(FunctionRef("fn")))[0].state is not State.PENDING:
                break
            await asyncio.sleep(0.01)
    finally:
        working.cancel()
    assert refused
    assert (await cp.functions.get(FunctionRef("fn")))[0].state is State.ACTIVE
