"""The HTTP APIs' control plane: create, read, update and delete APIs and their routes, integrations,
stages and deployments in the store (auto-deploying stages redeployed on every change), tags, and the
deployed state the data plane serves."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from lambkin.cluster.bus import EVERYTHING, Bus, SoloBus
from lambkin.events.http import api_live as live_state
from lambkin.events.http import api_store as db
from lambkin.events.http.api_live import Live
from lambkin.events.http.apis import (
    DEFAULT,
    Api,
    Authorizer,
    BadRequest,
    Conflict,
    Deployment,
    Integration,
    MissingRoute,
    NotFound,
    Record,
    Route,
    Stage,
    check_authorizer,
    check_cors,
    check_integration,
    check_route_key,
    check_route_settings,
    check_stage_name,
    check_stage_variables,
    new_id,
)
from lambkin.store import Connection, Store

T = TypeVar("T")
R = TypeVar("R", bound=Record)
LIVE_CACHE_S = 1.0
PAGE = 100  # APIs a listing answers when MaxResults is not given
TOPIC = "http-apis"  # the bus's topic: the API with this id changed


class HttpApis:
    """The control plane of one account's HTTP APIs in one region."""

    def __init__(
        self,
        store: Store,
        region: str,
        account_id: str,
        clock: Callable[[], float] = time.time,
        bus: Bus | None = None,
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self._live: dict[str, tuple[float, Live | None]] = {}
        self._names: dict[str, tuple[float, str | None]] = {}
        self.bus: Bus = bus or SoloBus()
        self.bus.subscribe(TOPIC, self._changed)

    def _changed(self, api_id: str) -> None:
        """An API changed (here, or on another node: the bus tells): what the data plane kept of it goes."""
        if api_id == EVERYTHING:
            self._live.clear()
        else:
            self._live.pop(api_id, None)
        self._names.clear()

    # APIs
    async def create_api(
        self,
        name: str,
        *,
        protocol_type: str = "HTTP",
        description: str | None = None,
        version: str | None = None,
        cors: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        disable_execute_api_endpoint: bool = False,
        target: str | None = None,
        route_key: str | None = None,
    ) -> Api:
        """A new API; with `target` (a function ARN) a quick create: its AWS_PROXY integration (payload
        2.0), a route (`route_key`, else `$default`) and a `$default` stage that deploys automatically."""
        if protocol_type != "HTTP":
            raise BadRequest(f"Unsupported protocol type {protocol_type}: lambkin serves HTTP APIs.")
        check_cors(cors)
        if route_key is not None and target is None:
            raise BadRequest("RouteKey is only allowed with Target (quick create).")
        if target is not None:
            check_integration("AWS_PROXY", target, "2.0", None)
            check_route_key(route_key or DEFAULT)
        now = self.clock()
        api = Api(
            new_id(),
            name,
            now,
            protocol_type,
            description,
            version,
            cors,
            disable_execute_api_endpoint,
            tags or {},
        )

        def write(conn: Connection) -> Api:
            db.write_api(conn, api)
            if target is not None:
                integration = Integration(new_id()[:7], "AWS_PROXY", target, "2.0")
                db.write_part(conn, api.api_id, integration)
                route = Route(
                    new_id()[:7], route_key or DEFAULT, f"integrations/{integration.integration_id}"
                )
                db.write_part(conn, api.api_id, route)
                db.write_part(conn, api.api_id, Stage(DEFAULT, now, now, auto_deploy=True))
                self._redeploy(conn, api.api_id)
            return api

        return await self._write(api.api_id, write)

    async def get_api(self, api_id: str) -> Api:
        return await self.store.run(lambda conn: self._api(conn, api_id))

    async def get_apis(self, next_token: str | None, max_results: int | None) -> tuple[list[Api], str | None]:
        limit = max_results or PAGE
        found = await self.store.run(lambda conn: db.list_apis(conn, next_token or "", limit + 1))
        return found[:limit], found[limit - 1].api_id if len(found) > limit else None

    async def update_api(self, api_id: str, changes: Mapping[str, Any]) -> Api:
        check_cors(changes.get("cors"))

        def write(conn: Connection) -> Api:
            api = dataclasses.replace(self._api(conn, api_id), **changes)
            db.write_api(conn, api)
            return api

        return await self._write(api_id, write)

    async def delete_api(self, api_id: str) -> None:
        def write(conn: Connection) -> None:
            self._api(conn, api_id)
            db.delete_api(conn, api_id)

        await self._write(api_id, write)

    # routes and integrations (each change redeploys the auto-deploying stages)
    async def create_route(self, api_id: str, route_key: str, **fields: Any) -> Route:
        route = Route(new_id()[:7], check_route_key(route_key), **fields)

        def write(conn: Connection) -> Route:
            self._api(conn, api_id)
            self._check_route(conn, api_id, route)
            db.write_part(conn, api_id, route)
            self._redeploy(conn, api_id)
            return route

        return await self._write(api_id, write)

    async def update_route(self, api_id: str, route_id: str, changes: Mapping[str, Any]) -> Route:
        if "route_key" in changes:
            check_route_key(changes["route_key"])

        def write(conn: Connection) -> Route:
            route = dataclasses.replace(self._part(conn, Route, api_id, route_id), **changes)
            self._check_route(conn, api_id, route)
            db.write_part(conn, api_id, route)
            self._redeploy(conn, api_id)
            return route

        return await self._write(api_id, write)

    async def create_integration(
        self, api_id: str, integration_type: str, uri: str | None, payload: str | None, **fields: Any
    ) -> Integration:
        check_integration(integration_type, uri, payload, fields.get("timeout_ms"))
        if uri is None:
            raise BadRequest("IntegrationUri is required for an AWS_PROXY integration.")
        if payload is None:
            raise BadRequest("PayloadFormatVersion is required for an AWS_PROXY integration of an HTTP API.")
        fields = {k: v for k, v in fields.items() if v is not None}
        integration = Integration(new_id()[:7], integration_type, uri, payload, **fields)

        def write(conn: Connection) -> Integration:
            self._api(conn, api_id)
            db.write_part(conn, api_id, integration)
            self._redeploy(conn, api_id)
            return integration

        return await self._write(api_id, write)

    async def update_integration(
        self, api_id: str, integration_id: str, changes: Mapping[str, Any]
    ) -> Integration:
        def write(conn: Connection) -> Integration:
            integration = dataclasses.replace(
                self._part(conn, Integration, api_id, integration_id), **changes
            )
            check_integration(
                integration.integration_type,
                integration.uri,
                integration.payload_format,
                integration.timeout_ms,
            )
            db.write_part(conn, api_id, integration)
            self._redeploy(conn, api_id)
            return integration

        return await self._write(api_id, write)

    async def put_authorizer(
        self, api_id: str, authorizer_id: str | None, fields: Mapping[str, Any]
    ) -> Authorizer:
        """Creates an authorizer (`authorizer_id` None) or changes one."""

        def write(conn: Connection) -> Authorizer:
            if authorizer_id is None:
                self._api(conn, api_id)
                authorizer = Authorizer(new_id()[:6], **fields)
            else:
                authorizer = dataclasses.replace(
                    self._part(conn, Authorizer, api_id, authorizer_id), **fields
                )
            check_authorizer(authorizer)
            db.write_part(conn, api_id, authorizer)
            self._redeploy(conn, api_id)
            return authorizer

        return await self._write(api_id, write)

    async def delete_part(self, api_id: str, kind: type[Record], part_id: str) -> None:
        """Deletes a route, an integration (unless a route targets it), a stage or a deployment."""

        def write(conn: Connection) -> None:
            self._part(conn, kind, api_id, part_id)
            if kind is Integration:
                users = [
                    r.route_id for r in db.list_parts(conn, Route, api_id) if r.integration_id == part_id
                ]
                if users:
                    raise Conflict(f"Integration {part_id} is in use by route(s) {', '.join(users)}.")
            db.delete_part(conn, kind, api_id, part_id)
            if kind in (Route, Integration):
                self._redeploy(conn, api_id)

        await self._write(api_id, write)

    async def get_part(self, api_id: str, kind: type[R], part_id: str) -> R:
        return await self.store.run(lambda conn: self._part(conn, kind, api_id, part_id))

    async def list_parts(self, api_id: str, kind: type[R]) -> list[R]:
        def read(conn: Connection) -> list[R]:
            self._api(conn, api_id)
            return db.list_parts(conn, kind, api_id)

        return await self.store.run(read)

    # stages and deployments
    async def create_stage(self, api_id: str, name: str, **fields: Any) -> Stage:
        check_stage_name(name)
        check_stage_variables(fields.get("variables") or {})
        _check_settings(fields)
        now = self.clock()
        stage = Stage(name, now, now, **{k: v for k, v in fields.items() if v is not None})

        def write(conn: Connection) -> Stage:
            self._api(conn, api_id)
            if db.read_part(conn, Stage, api_id, name) is not None:
                raise Conflict(f"Stage already exists: {name}")
            self._check_route_keys(conn, api_id, stage.route_settings)
            if stage.deployment_id is not None:
                self._part(conn, Deployment, api_id, stage.deployment_id)
            db.write_part(conn, api_id, stage)
            return self._redeploy(conn, api_id, name) if stage.auto_deploy else stage

        return await self._write(api_id, write)

    async def update_stage(self, api_id: str, name: str, changes: Mapping[str, Any]) -> Stage:
        check_stage_variables(changes.get("variables") or {})
        _check_settings(changes)

        def write(conn: Connection) -> Stage:
            old = self._part(conn, Stage, api_id, name)
            self._check_route_keys(conn, api_id, changes.get("route_settings") or {})
            stage = dataclasses.replace(old, updated=self.clock(), **_merged(old, changes))
            if "deployment_id" in changes and stage.deployment_id is not None:
                self._part(conn, Deployment, api_id, stage.deployment_id)
            db.write_part(conn, api_id, stage)
            return self._redeploy(conn, api_id, name) if changes.get("auto_deploy") else stage

        return await self._write(api_id, write)

    async def delete_route_settings(self, api_id: str, name: str, route_key: str) -> None:
        """Forgets a route's own settings in a stage (the stage's default settings apply to it again)."""

        def write(conn: Connection) -> None:
            stage = self._part(conn, Stage, api_id, name)
            if route_key not in stage.route_settings:
                raise MissingRoute(route_key)
            kept = {k: v for k, v in stage.route_settings.items() if k != route_key}
            db.write_part(conn, api_id, dataclasses.replace(stage, route_settings=kept, updated=self.clock()))

        await self._write(api_id, write)

    def _check_route_keys(self, conn: Connection, api_id: str, settings: Mapping[str, Any]) -> None:
        """Raises MissingRoute for a RouteSettings entry naming no route of the API."""
        keys = {route.route_key for route in db.list_parts(conn, Route, api_id)}
        for route_key in settings:
            if route_key not in keys:
                raise MissingRoute(route_key)

    async def create_deployment(
        self, api_id: str, stage_name: str | None, description: str | None
    ) -> Deployment:
        def write(conn: Connection) -> Deployment:
            self._api(conn, api_id)
            stage = None if stage_name is None else self._part(conn, Stage, api_id, stage_name)
            if stage is not None and stage.auto_deploy:
                raise BadRequest(f"Stage {stage_name} is configured for auto-deploy: it deploys itself.")
            deployment = self._snapshot(conn, api_id, description, auto=False)
            if stage is not None:
                db.write_part(
                    conn, api_id, dataclasses.replace(stage, deployment_id=deployment.deployment_id)
                )
            return deployment

        return await self._write(api_id, write)

    # tags, by the ARN of an API or a stage
    async def tags(self, arn: str) -> dict[str, str]:
        api_id, stage = self._tagged(arn)
        return await self.store.run(lambda conn: dict(self._tag_holder(conn, api_id, stage).tags))

    async def retag(self, arn: str, added: Mapping[str, str], removed: Sequence[str]) -> None:
        api_id, stage = self._tagged(arn)

        def write(conn: Connection) -> None:
            holder = self._tag_holder(conn, api_id, stage)
            tags = {k: v for k, v in {**holder.tags, **added}.items() if k not in removed}
            if isinstance(holder, Api):
                db.write_api(conn, dataclasses.replace(holder, tags=tags))
            else:
                db.write_part(conn, api_id, dataclasses.replace(holder, tags=tags))

        await self._write(api_id, write)

    def api_arn(self, api_id: str, stage: str | None = None) -> str:
        arn = f"arn:aws:apigateway:{self.region}::/apis/{api_id}"
        return arn if stage is None else f"{arn}/stages/{stage}"

    # what the data plane serves
    async def live(self, api_id: str) -> Live | None:
        """The API's deployed stages (remembered LIVE_CACHE_S; forgotten at any node's write of it)."""
        now = time.monotonic()
        cached = self._live.get(api_id)
        if cached is not None and now - cached[0] < LIVE_CACHE_S:
            return cached[1]
        found = await self.store.run(lambda conn: live_state.read_live(conn, api_id))
        if len(self._live) > 10_000:
            self._live.clear()
        self._live[api_id] = (now, found)
        return found

    async def named(self, name: str) -> str | None:
        """The id of the first API (by id) named `name` (remembered LIVE_CACHE_S)."""
        now = time.monotonic()
        cached = self._names.get(name)
        if cached is not None and now - cached[0] < LIVE_CACHE_S:
            return cached[1]

        found = await self.store.run(lambda conn: live_state.first_named(conn, name))
        self._names[name] = (now, found)
        return found

    # inside a unit of work
    async def _write(self, api_id: str, fn: Callable[[Connection], T]) -> T:
        """`fn`'s unit of work, announced to the other nodes at its commit."""

        def unit(conn: Connection) -> T:
            done = fn(conn)
            self.bus.announce(conn, TOPIC, api_id)
            return done

        try:
            return await self.store.run(unit)
        finally:
            self._changed(api_id)

    def _api(self, conn: Connection, api_id: str) -> Api:
        return db.required(db.read_api(conn, api_id), lambda: NotFound("API", self.account_id, api_id))

    def _part(self, conn: Connection, kind: type[R], api_id: str, part_id: str) -> R:
        self._api(conn, api_id)
        label = {
            Route: "Route",
            Integration: "Integration",
            Stage: "stage",
            Deployment: "Deployment",
            Authorizer: "Authorizer",
        }[kind]
        return db.required(
            db.read_part(conn, kind, api_id, part_id), lambda: NotFound(label, self.account_id, part_id)
        )

    def _check_route(self, conn: Connection, api_id: str, route: Route) -> None:
        for other in db.list_parts(conn, Route, api_id):
            if other.route_key == route.route_key and other.route_id != route.route_id:
                raise Conflict(f"Route with key {route.route_key} already exists for this API")
        if route.target is not None:
            if not route.target.startswith("integrations/"):
                raise BadRequest(f"Invalid Target {route.target}: must be integrations/{{integrationId}}.")
            self._part(conn, Integration, api_id, route.target.removeprefix("integrations/"))
        if route.authorization_type in ("CUSTOM", "JWT"):
            if route.authorizer_id is None:
                raise BadRequest(
                    f"A route with AuthorizationType {route.authorization_type} needs an AuthorizerId."
                )
            found = self._part(conn, Authorizer, api_id, route.authorizer_id)
            if (found.authorizer_type == "JWT") != (route.authorization_type == "JWT"):
                raise BadRequest(
                    f"AuthorizationType {route.authorization_type} does not fit a {found.authorizer_type} authorizer."
                )
        elif route.authorization_type != "NONE":
            raise BadRequest(
                f"AuthorizationType {route.authorization_type} is not served by lambkin: NONE, CUSTOM or JWT."
            )

    def _snapshot(self, conn: Connection, api_id: str, description: str | None, *, auto: bool) -> Deployment:
        deployment = Deployment(
            new_id()[:6],
            self.clock(),
            tuple(r.to_json() for r in db.list_parts(conn, Route, api_id)),
            tuple(i.to_json() for i in db.list_parts(conn, Integration, api_id)),
            description,
            auto,
            tuple(a.to_json() for a in db.list_parts(conn, Authorizer, api_id)),
        )
        db.write_part(conn, api_id, deployment)
        return deployment

    def _redeploy(self, conn: Connection, api_id: str, only: str | None = None) -> Stage:
        """A new deployment for each auto-deploying stage (or `only` that one); the last stage updated."""
        updated: Stage | None = None
        for stage in db.list_parts(conn, Stage, api_id):
            if not stage.auto_deploy or (only is not None and stage.name != only):
                continue
            deployment = self._snapshot(
                conn, api_id, "Automatic deployment triggered by changes to the Api configuration", auto=True
            )
            updated = dataclasses.replace(stage, deployment_id=deployment.deployment_id, updated=self.clock())
            db.write_part(conn, api_id, updated)
        return updated if updated is not None else Stage(DEFAULT, 0, 0)

    def _tagged(self, arn: str) -> tuple[str, str | None]:
        prefix = f"arn:aws:apigateway:{self.region}::/apis/"
        if not arn.startswith(prefix):
            raise NotFound("resource", self.account_id, arn)
        api_id, _, rest = arn.removeprefix(prefix).partition("/")
        if rest and not rest.startswith("stages/"):
            raise BadRequest(f"Tags are kept on APIs and stages, not on {arn}.")
        return api_id, rest.removeprefix("stages/") or None

    def _tag_holder(self, conn: Connection, api_id: str, stage: str | None) -> Api | Stage:
        api = self._api(conn, api_id)
        return api if stage is None else self._part(conn, Stage, api_id, stage)


def _check_settings(fields: Mapping[str, Any]) -> None:
    check_route_settings(fields.get("default_route_settings") or {})
    for settings in (fields.get("route_settings") or {}).values():
        check_route_settings(settings)


def _merged(stage: Stage, changes: Mapping[str, Any]) -> dict[str, Any]:
    """An UpdateStage's changes, with route settings merged into the stage's: the members given replace
    theirs, in the default settings and in each route's entry."""
    merged = dict(changes)
    if "default_route_settings" in changes:
        merged["default_route_settings"] = {
            **stage.default_route_settings,
            **changes["default_route_settings"],
        }
    if "route_settings" in changes:
        routes = dict(stage.route_settings)
        for route_key, settings in changes["route_settings"].items():
            routes[route_key] = {**routes.get(route_key, {}), **settings}
        merged["route_settings"] = routes
    return merged
