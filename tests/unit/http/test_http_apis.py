"""The HTTP APIs' control plane on both stores (SQLite, PostgreSQL): quick create, routes, integrations,
stages that auto-deploy or wait for a deployment, tags, errors in API Gateway's shapes, and the routes file's
migration."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lambkin.events.http import api_store
from lambkin.events.http.api_service import HttpApis
from lambkin.events.http.apis import BadRequest, Conflict, Integration, MissingRoute, NotFound, Route, Stage
from lambkin.events.http.routes import migrate_routes_file
from lambkin.store import Store
from lambkin.store.postgres import PostgresStore
from lambkin.store.sqlite import SqliteStore
from tests import postgres

T = TypeVar("T")
FN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    database: Store
    if request.param == "sqlite":
        database = SqliteStore(tmp_path / "lambkin.db")
    else:
        database = PostgresStore(postgres.shared().create_database(), "lambkin")
    database.migrate(api_store.MIGRATIONS)
    yield database
    database.close()


@pytest.fixture
def apis(db: Store) -> HttpApis:
    return HttpApis(db, "us-east-1", "000000000000")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_quick_create_makes_an_integration_a_route_and_an_auto_deployed_default_stage(apis: HttpApis) -> None:
    api = run(apis.create_api("q", target=FN, route_key="GET /items/{id}"))
    assert len(api.api_id) == 10
    live = run(apis.live(api.api_id))
    assert live is not None and set(live.stages) == {"$default"}
    served = live.stages["$default"]
    assert [r.route_key for r in served.routes] == ["GET /items/{id}"]
    integration = served.integrations[served.routes[0].integration_id or ""]
    assert integration.function() == ("fn", None) and integration.payload_format == "2.0"
    assert served.stage.auto_deploy and served.stage.deployment_id is not None


def test_a_stage_without_auto_deploy_serves_only_what_was_deployed(apis: HttpApis) -> None:
    api = run(apis.create_api("s"))
    integration = run(apis.create_integration(api.api_id, "AWS_PROXY", FN, "1.0", timeout_ms=1000))
    run(apis.create_route(api.api_id, "GET /a", target=f"integrations/{integration.integration_id}"))
    run(apis.create_stage(api.api_id, "prod", variables={"env": "prod"}))
    assert run(apis.live(api.api_id)).stages == {}  # type: ignore[union-attr]
    deployment = run(apis.create_deployment(api.api_id, "prod", "first"))
    run(apis.create_route(api.api_id, "GET /b", target=f"integrations/{integration.integration_id}"))
    live = run(apis.live(api.api_id))
    assert live is not None and live.stages["prod"].stage.deployment_id == deployment.deployment_id
    assert [r.route_key for r in live.stages["prod"].routes] == ["GET /a"]  # /b is not deployed yet


def test_update_stage_merges_route_settings_and_they_are_served_without_a_deployment(apis: HttpApis) -> None:
    api = run(apis.create_api("t", target=FN, route_key="GET /a"))
    burst = {"ThrottlingBurstLimit": 2}
    run(apis.update_stage(api.api_id, "$default", {"default_route_settings": burst, "route_settings": {}}))
    run(apis.update_stage(api.api_id, "$default", {"default_route_settings": {"ThrottlingRateLimit": 0.5}}))
    run(
        apis.update_stage(api.api_id, "$default", {"route_settings": {"GET /a": {"ThrottlingBurstLimit": 1}}})
    )
    stage = run(
        apis.update_stage(
            api.api_id, "$default", {"route_settings": {"GET /a": {"ThrottlingRateLimit": 3.0}}}
        )
    )
    assert stage.default_route_settings == {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.5}
    assert stage.route_settings == {"GET /a": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 3.0}}
    live = run(apis.live(api.api_id))
    assert live is not None and live.stages["$default"].stage.route_settings == stage.route_settings
    with pytest.raises(MissingRoute):
        run(apis.update_stage(api.api_id, "$default", {"route_settings": {"GET /b": {}}}))
    with pytest.raises(BadRequest):
        run(
            apis.update_stage(
                api.api_id, "$default", {"default_route_settings": {"ThrottlingBurstLimit": -1}}
            )
        )
    run(apis.delete_route_settings(api.api_id, "$default", "GET /a"))
    assert run(apis.get_part(api.api_id, Stage, "$default")).route_settings == {}
    with pytest.raises(MissingRoute):
        run(apis.delete_route_settings(api.api_id, "$default", "GET /a"))


def test_errors_are_api_gateways(apis: HttpApis) -> None:
    with pytest.raises(NotFound) as missing:
        run(apis.get_api("nope"))
    assert missing.value.code == "NotFoundException"
    assert missing.value.message == "Invalid API identifier specified 000000000000:nope"
    api = run(apis.create_api("e", target=FN))
    with pytest.raises(Conflict):
        run(apis.create_route(api.api_id, "$default"))
    for key in ("GET items", "FETCH /x", "GET /{a+}/b"):
        with pytest.raises(BadRequest):
            run(apis.create_route(api.api_id, key))
    with pytest.raises(BadRequest, match="TimeoutInMillis"):
        run(apis.create_integration(api.api_id, "AWS_PROXY", FN, "2.0", timeout_ms=30001))
    with pytest.raises(BadRequest, match="PayloadFormatVersion"):
        run(apis.create_integration(api.api_id, "AWS_PROXY", FN, None))
    used = run(apis.list_parts(api.api_id, Integration))[0]
    with pytest.raises(Conflict):
        run(apis.delete_part(api.api_id, Integration, used.integration_id))
    with pytest.raises(Conflict):
        run(apis.create_stage(api.api_id, "$default"))


def test_tags_on_apis_and_stages_and_delete(apis: HttpApis) -> None:
    api = run(apis.create_api("t", tags={"a": "1"}, target=FN))
    run(apis.retag(apis.api_arn(api.api_id), {"b": "2"}, ["a"]))
    assert run(apis.tags(apis.api_arn(api.api_id))) == {"b": "2"}
    run(apis.retag(apis.api_arn(api.api_id, "$default"), {"s": "x"}, []))
    assert run(apis.get_part(api.api_id, Stage, "$default")).tags == {"s": "x"}
    run(apis.delete_api(api.api_id))
    assert run(apis.live(api.api_id)) is None
    with pytest.raises(NotFound):
        run(apis.list_parts(api.api_id, Route))


def test_routes_file_migrates_once_into_the_gateway_api(db: Store, apis: HttpApis, tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    routes = [
        {"method": "GET", "path": "/items/{id}", "function": "fn", "qualifier": "live", "format": "1.0"},
        {"method": "ANY", "path": "$default", "function": "web", "format": "alb", "multiValueHeaders": True},
    ]
    path.write_text(json.dumps({"routes": routes}))
    api_id = migrate_routes_file(db, path)
    assert api_id is not None and not path.exists() and (tmp_path / "routes.json.migrated").exists()
    assert migrate_routes_file(db, path) is None
    assert run(apis.named("gateway")) == api_id
    served = run(apis.live(api_id)).stages["$default"]  # type: ignore[union-attr]
    found = {r.route_key: served.integrations[r.integration_id or ""] for r in served.routes}
    assert found["GET /items/{id}"].function() == ("fn", "live")
    assert found["GET /items/{id}"].payload_format == "1.0"
    assert found["$default"].payload_format == "alb-multi-value"
