"""UrlService on a real SQLite file: one config per function or alias, deletes cascade, lookups by url-id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lambkin.functions.errors import FunctionNotFound, InvalidParameterValue, ResourceConflict
from lambkin.functions.model import Alias, FunctionRecord, FunctionVersion
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.functions.states import State
from lambkin.functions.urls import UrlService
from lambkin.store import Connection
from lambkin.store.sqlite import SqliteStore
from lambkin.wiring import migrations


@pytest.fixture()
def service(tmp_path: Path) -> UrlService:
    db = SqliteStore(tmp_path / "lambkin.db")
    db.migrate(migrations())
    repo = FunctionRepository()

    def seed(conn: Connection) -> None:
        repo.put_record(conn, FunctionRecord(name="fn"))
        version = FunctionVersion(
            name="fn",
            function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
            version="1",
            role="r",
            image_uri="u",
            architectures=("x86_64",),
            state=State.ACTIVE,
            state_reason="",
            state_reason_code="",
        )
        repo.put_version(conn, version)
        repo.put_alias(conn, Alias(function_name="fn", name="live", function_version="1", alias_arn="arn"))

    db.run_sync(seed)
    return UrlService(db, Arns("us-east-1", "123456789012"), clock=lambda: 0.0)


def test_create_get_update_list_delete(service: UrlService) -> None:
    async def scenario() -> None:
        created = await service.create(FunctionRef("fn"), "NONE", {"AllowOrigins": ["*"]}, None)
        assert len(created.url_id) == 32 and created.url_id.isalnum() and created.url_id.islower()
        assert created.invoke_mode == "BUFFERED" and created.creation_time == "1970-01-01T00:00:00.000000Z"
        with pytest.raises(ResourceConflict):
            await service.create(FunctionRef("fn"), "NONE", None, None)
        aliased = await service.create(FunctionRef("fn", "live"), "AWS_IAM", None, None)
        assert service.function_arn(aliased).endswith(":function:fn:live")
        assert (await service.by_id(aliased.url_id)) == aliased
        updated = await service.update(FunctionRef("fn"), "AWS_IAM", None, None)
        assert updated.auth_type == "AWS_IAM" and updated.cors == {"AllowOrigins": ["*"]}
        page = await service.list(FunctionRef("fn"), None, 1)
        assert [c.alias for c in page.items] == [None] and page.next_marker
        rest = await service.list(FunctionRef("fn"), page.next_marker, 1)
        assert [c.alias for c in rest.items] == ["live"] and rest.next_marker is None
        await service.delete(FunctionRef("fn", "live"))
        assert await service.by_id(aliased.url_id) is None
        with pytest.raises(FunctionNotFound):
            await service.get(FunctionRef("fn", "live"))

    asyncio.run(scenario())


def test_qualifier_rules(service: UrlService) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidParameterValue):
            await service.create(FunctionRef("fn", "1"), "NONE", None, None)
        with pytest.raises(FunctionNotFound):
            await service.create(FunctionRef("fn", "nope"), "NONE", None, None)
        with pytest.raises(FunctionNotFound):
            await service.create(FunctionRef("other"), "NONE", None, None)
        with pytest.raises(InvalidParameterValue):
            await service.create(FunctionRef("fn"), "OPEN", None, None)

    asyncio.run(scenario())


def test_deleting_the_alias_or_function_deletes_its_urls(service: UrlService) -> None:
    async def scenario() -> None:
        plain = await service.create(FunctionRef("fn"), "NONE", None, None)
        aliased = await service.create(FunctionRef("fn", "live"), "NONE", None, None)
        await service.db.run(lambda c: c.execute("DELETE FROM function_aliases WHERE name = 'live'"))
        service._by_id.clear()
        assert await service.by_id(aliased.url_id) is None
        await service.db.run(lambda c: c.execute("DELETE FROM functions WHERE name = 'fn'"))
        assert await service.by_id(plain.url_id) is None

    asyncio.run(scenario())
