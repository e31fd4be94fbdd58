"""What the HTTP APIs' data plane serves, read from the store: an API's deployed stages (`Live`), each with
the routes, integrations and authorizers of its deployment (`Served`), and an API found by its name. The
control plane (api_service.py) keeps what was read for a moment and forgets it at any node's write."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lambkin.events.http import api_store as db
from lambkin.events.http.apis import Api, Authorizer, Deployment, Integration, Route, Stage
from lambkin.store import Connection

PAGE = 100  # APIs read at a time while looking for a name


@dataclass(frozen=True)
class Served:
    """One stage as requests see it: its deployment's routes and integrations."""

    stage: Stage
    routes: tuple[Route, ...]
    integrations: Mapping[str, Integration]
    authorizers: Mapping[str, Authorizer]


@dataclass(frozen=True)
class Live:
    """An API as the data plane serves it."""

    api: Api
    stages: Mapping[str, Served]


def read_live(conn: Connection, api_id: str) -> Live | None:
    """The API's stages that have a deployment, each with what that deployment holds; None: no such API."""
    api = db.read_api(conn, api_id)
    if api is None:
        return None
    stages: dict[str, Served] = {}
    for stage in db.list_parts(conn, Stage, api_id):
        deployment = (
            None
            if stage.deployment_id is None
            else db.read_part(conn, Deployment, api_id, stage.deployment_id)
        )
        if deployment is None:
            continue
        integrations = [Integration.from_json(i) for i in deployment.integrations]
        authorizers = [Authorizer.from_json(a) for a in deployment.authorizers]
        stages[stage.name] = Served(
            stage,
            tuple(Route.from_json(r) for r in deployment.routes),
            {i.integration_id: i for i in integrations},
            {a.authorizer_id: a for a in authorizers},
        )
    return Live(api, stages)


def first_named(conn: Connection, name: str) -> str | None:
    """The id of the first API (by id) named `name`, read a page at a time."""
    after = ""
    while page := db.list_apis(conn, after, PAGE):
        found = next((api.api_id for api in page if api.name == name), None)
        if found is not None:
            return found
        after = page[-1].api_id
    return None
