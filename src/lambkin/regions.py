"""The regional parts of the server, built once per region served (docs/design/regions.md).

A region is a namespace: its functions, queues, mappings, buses, schedules, HTTP APIs, logs and metrics are
its own, on its own stores, and its ARNs and queue URLs carry its name. The home region (LAMBKIN_REGION)
keeps the data directory's layout and the database's public schema as they always were; another region's
stores are under `<data>/regions/<region>/` (SQLite) or in the schema `lambkin_<region>` (PostgreSQL). IAM,
STS, the image registry, the sandboxes and the cluster are shared by every region, as AWS's IAM is global.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lambkin import wiring
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.invoke_relay import InvokeRelay
from lambkin.cluster import Cluster
from lambkin.config import Settings
from lambkin.functions.control import ControlPlane
from lambkin.invoke.core import ExecutionCore
from lambkin.metrics.recorder import Recorder
from lambkin.network import vpc
from lambkin.queues.service import QueueService
from lambkin.store import Store


@dataclass(frozen=True)
class Shared:
    """The parts every region uses: built once, before any region's."""

    store: wiring.StorePart
    cluster: wiring.ClusterPart
    iam: wiring.IamPart
    identity: wiring.IdentityPart
    authorization: wiring.AuthorizationPart
    images: wiring.ImagesPart
    vpcs: vpc.Catalog
    sandboxes: wiring.SandboxesPart

    @property
    def parts(self) -> tuple[wiring.Part, ...]:
        return (
            self.store,
            self.cluster,
            self.iam,
            self.identity,
            self.authorization,
            self.images,
            self.sandboxes,
        )


def shared(settings: Settings) -> Shared:
    store = wiring.store(settings)
    cluster = wiring.cluster(settings)
    iam = wiring.iam(settings, store.db, cluster.cluster.bus)
    identity = wiring.identity(settings, iam.iam)
    authorization = wiring.authorization(settings, iam.iam)
    images = wiring.images(settings, store.db, identity.keys, authorization.authorizer, cluster.cluster)
    vpcs = wiring.vpcs(settings)
    sandboxes = wiring.sandboxes(settings, vpcs)
    return Shared(store, cluster, iam, identity, authorization, images, vpcs, sandboxes)


@dataclass(frozen=True)
class Region:
    """One region's parts (its own, not the shared ones), its AWS APIs, and what the server needs of it."""

    name: str
    settings: Settings
    db: Store
    parts: tuple[wiring.Part, ...]
    plane: ControlPlane
    core: ExecutionCore
    queues: QueueService
    http: wiring.HttpPart
    aws: AwsAsgi
    recorder: Recorder | None
    relay: InvokeRelay | None


def regional_settings(settings: Settings, region: str) -> Settings:
    """The settings a region's parts are built with: the home region's are `settings` themselves (today's
    data directory and schema); another's name it, and keep its stores apart."""
    if region == settings.region:
        return settings
    data_dir = settings.data_dir / "regions" / region
    return dataclasses.replace(
        settings,
        region=region,
        data_dir=data_dir,
        routes_file=data_dir / "routes.json",  # an earlier version's routes file is the home region's
        database_schema=None if settings.database_url is None else "lambkin_" + region.replace("-", "_"),
    )


def region(settings: Settings, name: str, common: Shared) -> Region:
    """Builds region `name`'s parts over the shared ones, in the order each needs the one before."""
    local = regional_settings(settings, name)
    own: tuple[wiring.Part, ...] = ()
    if name == settings.region:
        db = common.store.db
    else:  # its functions, mappings, buses, schedules and APIs on its own store (IAM's tables there unused)
        store = wiring.store(local)
        db, own = store.db, (store,)
    cluster: Cluster = common.cluster.cluster
    authorizer = common.authorization.authorizer
    images = common.images.service
    queues = wiring.queues(local, cluster, url_region=None if name == settings.region else name)
    cloudwatch = wiring.cloudwatch(local)
    functions = wiring.functions(
        local,
        db,
        images,
        common.iam.role_check,
        authorizer.role_may,
        queues.service,
        common.vpcs,
        bus=cluster.bus,
    )
    recorder = wiring.recording(local)  # metrics (issue 21): per region, as its functions' names are
    execution = wiring.execution(
        local,
        common.sandboxes,
        images,
        functions.plane,
        common.identity,
        cluster,
        recorder,
        cloudwatch,
    )
    core, targets = execution.core, execution.targets
    sampled = wiring.aws_namespaces(recorder, cloudwatch, core, queues.service)
    placement = wiring.placement(db, cluster, core, targets)
    invokes = wiring.invokes(local, db, functions.plane, core, targets, queues.service, cluster)
    http = wiring.http(local, db, functions.plane, core, targets, common.identity.keys, authorizer)
    bridge = wiring.bridge(
        local, db, functions.plane, targets, invokes.dispatcher, queues.service, authorizer, cluster
    )
    schedules = wiring.schedules(
        local,
        db,
        bridge.publisher,
        functions.plane,
        targets,
        invokes.dispatcher,
        queues.service,
        authorizer,
        cluster,
    )
    mappings = wiring.mappings(
        local, db, functions.plane, core, targets, queues.service, authorizer.role_may, recorder
    )
    observed = wiring.metrics(  # metrics (issue 21)
        local,
        recorder,
        functions.plane,
        core,
        queues.service,
        invokes.dispatcher,
        mappings.service,
        common.identity.keys,
    )
    parts = (
        *own,
        functions,
        execution,
        placement,
        queues,
        cloudwatch,
        sampled,
        invokes,
        http,
        mappings,
        bridge,
        schedules,
        observed,
    )
    tables = wiring.action_tables(local, functions.plane, queues.service)
    aws = wiring.aws(
        local,
        (*common.parts, *parts),
        common.identity.keys,
        tables,
        authorizer,
        cluster.relayer,
    )
    return Region(
        name=name,
        settings=local,
        db=db,
        parts=parts,
        plane=functions.plane,
        core=core,
        queues=queues.service,
        http=http,
        aws=aws,
        recorder=recorder,
        relay=placement.relay,
    )
