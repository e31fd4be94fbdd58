"""The parts' wirings: each part of the server built from Settings, and what it adds to the whole.

One function per part returns a frozen `Part`: its AWS API handlers by service, its HTTP mounts, its
background loops and its closers, plus the objects the parts after it need. `app.build()` calls them in
order and composes what they return; nothing here starts anything.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lambkin.api import console_sessions
from lambkin.api.apigw_actions import apigw_actions
from lambkin.api.apigw_api import apigw_handlers
from lambkin.api.authorize import ActionTable, Decider, build_authorize
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.cloudwatch_actions import cloudwatch_actions
from lambkin.api.cloudwatch_api import cloudwatch_handlers
from lambkin.api.cluster_blobs import ClusterBlobs
from lambkin.api.cluster_invoke import ClusterInvoke
from lambkin.api.cluster_logs import PATH as LOGS_PATH
from lambkin.api.cluster_logs import ClusterLogs, logs_endpoint
from lambkin.api.cluster_queues import PATH as SEND_PATH
from lambkin.api.cluster_queues import forwarder, send_endpoint
from lambkin.api.code_downloads import PREFIX as CODE_PREFIX
from lambkin.api.code_downloads import CodeDownloads, CodeUrls
from lambkin.api.console import PREFIX as CONSOLE_PREFIX
from lambkin.api.console import Console
from lambkin.api.console_sessions import ConsoleSessions
from lambkin.api.events_actions import events_actions
from lambkin.api.events_api import handlers as events_handlers
from lambkin.api.function_urls import FunctionUrls, HttpInvoker
from lambkin.api.http_gateway import HttpGateway
from lambkin.api.http_urls import PublicUrls
from lambkin.api.iam_actions import iam_actions, sts_actions
from lambkin.api.iam_api import handlers as iam_handlers
from lambkin.api.invoke_relay import InvokeRelay
from lambkin.api.lambda_actions import lambda_actions
from lambkin.api.lambda_api import handlers as lambda_handlers
from lambkin.api.lambda_async import AsyncInvokes
from lambkin.api.lambda_esm import esm_handlers, function_lookup
from lambkin.api.lambda_invoke import invoke_handlers
from lambkin.api.lambda_urls import url_handlers
from lambkin.api.logs_actions import logs_actions
from lambkin.api.logs_api import logs_handlers
from lambkin.api.metrics_api import PATH as METRICS_PATH
from lambkin.api.metrics_api import MetricsApp, Sources, scrape
from lambkin.api.node_only import endpoint, node_only
from lambkin.api.registry import RegistryApp, registry_paths
from lambkin.api.registry_access import RegistryAccess
from lambkin.api.registry_relay import UploadRelay
from lambkin.api.root import Mount, path_prefix
from lambkin.api.scheduler_actions import scheduler_actions
from lambkin.api.scheduler_api import handlers as scheduler_handlers
from lambkin.api.sqs_actions import sqs_actions
from lambkin.api.sqs_api import handlers as sqs_handlers
from lambkin.api.sts_api import sts_handlers
from lambkin.cluster import DRAINING, Bus, Cluster, join, node_name, rendezvous, solo
from lambkin.cluster.owners import Owners
from lambkin.config import SettingInvalid, Settings
from lambkin.environments.aws_endpoint import EndpointBackend, own_endpoint
from lambkin.environments.pool import Pools, PoolSettings
from lambkin.events import mapping_store
from lambkin.events.bridge import retries as bridge_retries
from lambkin.events.bridge import store as bridge_store
from lambkin.events.bridge.outlets import Outlets, Permitted
from lambkin.events.bridge.publish import Publisher
from lambkin.events.bridge.retries import Retries
from lambkin.events.bridge.service import Bridge
from lambkin.events.http import api_store
from lambkin.events.http.api_service import HttpApis
from lambkin.events.http.routes import migrate_routes_file
from lambkin.events.mapping_service import MappingService, RoleMay, queue_info, queue_lookup
from lambkin.events.pollers import build_event_sources
from lambkin.events.schedules import firings as schedule_firings
from lambkin.events.schedules import scheduler as scheduler_store
from lambkin.events.schedules.firings import FiringStore
from lambkin.events.schedules.rules import ScheduledRules
from lambkin.events.schedules.scheduled import ScheduledTargets
from lambkin.events.schedules.timer import Timer, refresh_periodically
from lambkin.functions import event_invoke_config, layer_store, policies
from lambkin.functions import provisioned as provisioned_configs
from lambkin.functions import repository as function_store
from lambkin.functions import urls as function_urls
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.event_invoke_config import EventInvokeConfigService
from lambkin.functions.layers import LayerService
from lambkin.functions.service import RoleCheck
from lambkin.functions.zip_code import ZipFunctions
from lambkin.identity import iam_store
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.directory import Directory
from lambkin.identity.execution_roles import lambda_can_assume, scheduler_can_assume
from lambkin.identity.function_credentials import FunctionCredentials
from lambkin.identity.iam import Iam
from lambkin.identity.iam_documents import check_document
from lambkin.identity.keys import Keyring
from lambkin.identity.principals import Principal
from lambkin.identity.principals import service as service_principal
from lambkin.identity.sts import Sts
from lambkin.images import catalog as image_catalog
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog, ImageSummary
from lambkin.images.gc import collect_periodically
from lambkin.images.peer_blobs import PeerBlobs
from lambkin.images.service import ImageService, build_image_service
from lambkin.images.unpack import ImageLimits
from lambkin.images.uploads import Uploads
from lambkin.invoke import forward, quota
from lambkin.invoke.async_core import build_dispatcher
from lambkin.invoke.async_destinations import function_of
from lambkin.invoke.async_dispatcher import Dispatcher, DispatchSettings
from lambkin.invoke.core import ExecutionCore, build_execution
from lambkin.invoke.forward import Forwarder
from lambkin.invoke.provisioning import ClusterSpread, ProvisionedKeeper
from lambkin.invoke.targets import Targets
from lambkin.logs.reader import LocalLogs, LogReader
from lambkin.logs.store import LogStore
from lambkin.metrics.aws_namespaces import AwsNamespaces
from lambkin.metrics.emf import EmbeddedMetrics
from lambkin.metrics.minutes import MIGRATIONS as METRICS_MIGRATIONS
from lambkin.metrics.minutes import MetricMinutes
from lambkin.metrics.recorder import Recorder
from lambkin.network import policy as network_policy
from lambkin.network import vpc
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.model import service_index
from lambkin.protocol.service import Caller, Handler, Relayer, RequestContext
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.runtimes.catalog import Runtimes  # managed runtimes (issue 18)
from lambkin.runtimes.zip_images import PackageImages
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxBackend
from lambkin.store import Migration, Store, open_store

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], None]
# The AWS APIs lambkin serves, in the order the gateway knows them (Lambda first: its fallback service).
AWS_SERVICES = ("lambda", "sqs", "logs", "iam", "sts", "events", "scheduler", "apigatewayv2", "cloudwatch")


@dataclass(frozen=True, kw_only=True)
class Part:
    """What one part adds to the server: AWS API handlers (by botocore service name, then operation), HTTP
    mounts (tried in order, ahead of the AWS APIs), background loops, and closers (run in reverse order)."""

    handlers: Mapping[str, Mapping[str, Handler]] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    background: tuple[BackgroundTask, ...] = ()
    closers: tuple[Closer, ...] = ()


def migrations() -> list[Migration]:
    """Every part's schema steps in <data>/lambkin.db."""
    steps: list[Migration] = []
    steps += image_catalog.MIGRATIONS
    steps += function_store.MIGRATIONS
    steps += layer_store.MIGRATIONS  # zip functions' layers (issue 18)
    steps += function_urls.MIGRATIONS
    steps += policies.MIGRATIONS
    steps += provisioned_configs.MIGRATIONS
    steps += event_invoke_config.MIGRATIONS
    steps += mapping_store.MIGRATIONS
    steps += iam_store.MIGRATIONS
    steps += bridge_store.MIGRATIONS
    steps += bridge_retries.MIGRATIONS
    steps += schedule_firings.MIGRATIONS
    steps += scheduler_store.MIGRATIONS
    steps += api_store.MIGRATIONS
    steps += console_sessions.MIGRATIONS
    return steps


@dataclass(frozen=True, kw_only=True)
class StorePart(Part):
    db: Store


def store(settings: Settings) -> StorePart:
    """The data directory and the control plane's store, migrated."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_store(settings, "lambkin")
    db.migrate(migrations())
    return StorePart(db=db, closers=(db.close,))


@dataclass(frozen=True, kw_only=True)
class ClusterPart(Part):
    cluster: Cluster


def cluster(settings: Settings) -> ClusterPart:
    """This server's place in a cluster (docs/design/cluster.md): alone without a node name; with one, a
    node of the cluster on the shared PostgreSQL (its own store, "cluster", so heartbeats never wait behind
    other work), heartbeating and listening for news of changes."""
    if not settings.clustered:
        return ClusterPart(cluster=solo(settings.endpoint))
    node_name(settings)  # a cluster needs PostgreSQL and a fit name: else SettingInvalid, before connecting
    db = open_store(settings, "cluster")
    joined = join(settings, db)
    return ClusterPart(
        cluster=joined, background=(joined.membership.run, joined.bus.run), closers=(db.close,)
    )


@dataclass(frozen=True, kw_only=True)
class IamPart(Part):
    iam: Iam
    role_check: RoleCheck


def iam(settings: Settings, db: Store, bus: Bus) -> IamPart:
    """IAM's roles, users, keys and policies (loaded from the database, and read again as other nodes
    change them: the bus's news), the IAM API, and the check that Lambda may assume a function's role."""
    service = Iam(db, settings.account_id, check_document, bus=bus)
    service.load()
    return IamPart(
        iam=service,
        role_check=lambda_can_assume(service),
        handlers={"iam": iam_handlers(service)},
        background=(service.refresh.run,),
    )


@dataclass(frozen=True, kw_only=True)
class IdentityPart(Part):
    directory: Directory
    keys: Keyring
    sts: Sts


def identity(settings: Settings, directory: Directory) -> IdentityPart:
    """Who signs a request (the keyring: the server's key is the account root, IAM users' keys, temporary
    credentials), and STS, whose sessions those temporary credentials are."""
    keys = Keyring(settings.credentials, settings.account_id, directory)
    sts = Sts(directory, keys.sessions, duration_scale=settings.session_duration_scale)
    return IdentityPart(directory=directory, keys=keys, sts=sts, handlers={"sts": sts_handlers(sts)})


@dataclass(frozen=True, kw_only=True)
class ImagesPart(Part):
    service: ImageService


def images(
    settings: Settings, db: Store, keys: Keyring, authorizer: Authorizer, cluster: Cluster
) -> ImagesPart:
    """Blobs and the catalog, the registry at /v2/ (first: nothing else claims its paths; its requests are
    authorized as ecr: actions), blob collection. On a cluster: blobs this node lacks fetched from its peers
    (which it serves its own at /_lambkin/cluster/blobs/), upload sessions relayed to the node holding them."""
    blobs = BlobStore(settings.data_dir / "blobs")
    node, relay = None, None
    peer_blobs = PeerBlobs(blobs)
    if cluster.peers is not None:
        node = cluster.membership.name
        peer_blobs = PeerBlobs(blobs, cluster.membership, cluster.peers)
        relay = UploadRelay(cluster.membership, cluster.peers)
    catalog = Catalog(db, blobs, peer_blobs)
    access = RegistryAccess(keys, authorizer, settings.region, settings.account_id)
    registry = RegistryApp(catalog, Uploads(db, blobs, catalog, node), blobs, access, relay)
    try:
        service = build_image_service(
            settings.data_dir,
            settings.host,
            settings.port,
            catalog,
            ImageLimits(settings.image_max_bytes, settings.image_max_files),
            settings.private_registries,
            settings.insecure_registries,
            lambda: (*settings.registry_names, *(urlsplit(n.url).netloc for n in cluster.membership.live())),
            cluster.membership.refresh,
        )
    except ValueError as exc:
        raise SettingInvalid(f"LAMBKIN_PRIVATE_REGISTRIES or LAMBKIN_INSECURE_REGISTRIES: {exc}") from None
    peers_only = node_only(cluster.peers, ClusterBlobs(blobs))
    return ImagesPart(
        service=service,
        mounts=(
            Mount("registry", registry_paths, registry),
            Mount("cluster-blobs", path_prefix(endpoint("blobs")), peers_only),
        ),
        background=(lambda: collect_periodically(db, blobs, settings.image_gc_interval_s, node=node),),
    )


@dataclass(frozen=True, kw_only=True)
class SandboxesPart(Part):
    backend: SandboxBackend


def vpcs(settings: Settings) -> vpc.Catalog:
    """The operator's subnets and security groups (LAMBKIN_VPC_CONFIG); a bad file stops the server."""
    try:
        return vpc.load(settings.vpc_config)
    except vpc.VpcConfigError as exc:
        raise SettingInvalid(str(exc)) from None


def sandboxes(settings: Settings, vpcs: vpc.Catalog = vpc.EMPTY) -> SandboxesPart:
    """The runc backend; at start its leftovers from an earlier run are removed (create() waits for that)
    and its network's rules set up; at the end they are removed. A VPC function's sandbox gets the egress
    rules of its security groups in `vpcs`."""
    network = network_policy.parse(
        settings.network,
        settings.network_range,
        settings.network_deny,
        settings.network_dns,
        range6=settings.network_range6,
    )
    backend = RuncBackend(
        settings.data_dir,
        init=settings.sandbox_init,
        network=network,
        pids_max=settings.sandbox_pids_max,
        vpcs=vpcs,
    )
    return SandboxesPart(backend=backend, background=(backend.start,), closers=(backend.close,))


@dataclass(frozen=True, kw_only=True)
class FunctionsPart(Part):
    plane: ControlPlane


def functions(
    settings: Settings,
    db: Store,
    images: ImageService,
    role_check: RoleCheck,
    role_may: RoleMay | None,
    queues: QueueService,
    vpcs: vpc.Catalog = vpc.EMPTY,
    *,
    bus: Bus,
) -> FunctionsPart:
    """The control plane (functions, versions, aliases, account) and its Lambda operations; a function's
    role must be one Lambda may assume (`role_check`) and, with `role_may` (the authorizer's), be allowed to
    send to its dead-letter queue and to reach its destinations (a queue's own policy counts too)."""

    def queue_policy(arn: str) -> str | None:
        queue = queue_info(queues, arn)
        return None if queue is None else queue.policy

    plane = build_control_plane(
        db,
        settings.region,
        settings.account_id,
        images,
        role_check=role_check,
        concurrency_limit=settings.account_concurrency,
        role_may=role_may,
        queue_policy=queue_policy,
        vpcs=vpcs,
        bus=bus,
    )
    # Zip functions on managed runtimes (issue 18): packages stored and composed into images in the
    # catalog, their download URLs signed by the server's key, served at /_lambkin/packages/.
    runtimes = Runtimes(settings.data_dir, images.catalog)
    packages = PackageImages(images.catalog, images, runtimes)
    code_urls = CodeUrls.from_secret(
        settings.public_url or settings.endpoint, settings.credentials.secret_access_key
    )
    layers = LayerService(db, plane.arns, packages)
    plane = dataclasses.replace(
        plane,
        zip_functions=ZipFunctions(packages, layers),
        package_url=lambda digest: code_urls.url(digest, time.time()),
        layers=layers,
    )
    return FunctionsPart(
        plane=plane,
        handlers={"lambda": lambda_handlers(plane)},
        mounts=(Mount("packages", path_prefix(CODE_PREFIX), CodeDownloads(code_urls, images.catalog)),),
        background=(plane.run,),
    )


@dataclass(frozen=True, kw_only=True)
class ExecutionPart(Part):
    core: ExecutionCore
    targets: Targets


def execution(
    settings: Settings,
    sandboxes: SandboxBackend,
    images: ImageService,
    plane: ControlPlane,
    identity: IdentityPart,
    cluster: Cluster,
    metrics: Recorder | None,
    cloudwatch: CloudWatchPart,
) -> ExecutionPart:
    """Environment pools on the sandboxes, the Invoker, provisioned concurrency kept warm (in a cluster, each
    node its share), and function logs with the Logs API. Functions reach lambkin's own AWS API from their
    sandbox (environments/aws_endpoint.py), signing as a session of their execution role
    (identity/function_credentials.py)."""
    logs = LogStore(
        settings.data_dir / "logs",
        retention_s=settings.log_retention_days * 86400,
        watch=EmbeddedMetrics(cloudwatch.minutes).observe,
    )
    pools = PoolSettings(
        region=settings.region,
        idle_timeout_s=settings.idle_timeout_s,
        freeze_after_s=settings.freeze_after_s,
        max_parallel_starts=settings.max_parallel_starts,
        busy_poll_s=settings.busy_poll_us / 1e6,
    )
    endpoint = own_endpoint(settings.host, settings.port)
    credentials = FunctionCredentials(identity.directory, identity.sts, pools.max_age_s)
    core = build_execution(
        EndpointBackend(sandboxes, endpoint, max_connections=settings.sandbox_endpoint_connections),
        images,
        logs,
        pools,
        settings.account_concurrency,
        credentials,
        metrics,
    )
    targets = Targets(plane.functions)
    spread = ClusterSpread(cluster.membership, rendezvous.rank) if cluster.clustered else None
    keeper = ProvisionedKeeper(plane.provisioned, targets.resolve, core.pools, bus=plane.bus, spread=spread)
    local_logs = LocalLogs(logs)
    reader: LogReader = local_logs
    mounts: tuple[Mount, ...] = ()
    if cluster.peers is not None:  # each node keeps its environments' logs; the Logs API reads every node's
        reader = ClusterLogs(local_logs, cluster.membership, cluster.peers)
        peers_logs = node_only(cluster.peers, logs_endpoint(local_logs))
        mounts = (Mount("cluster-logs", path_prefix(LOGS_PATH), peers_logs),)
    return ExecutionPart(
        core=core,
        targets=targets,
        handlers={"logs": logs_handlers(reader)},
        mounts=mounts,
        background=(core.pools.run, keeper.run),
        closers=(logs.close,),
    )


@dataclass(frozen=True, kw_only=True)
class PlacementPart(Part):
    relay: InvokeRelay | None = None  # the front door's relay of plain synchronous Invokes


def placement(db: Store, cluster: Cluster, core: ExecutionCore, targets: Targets) -> PlacementPart:
    """In a cluster (docs/design/placement.md): every invoke placed on the node that should run it (here,
    a node with an idle environment of its version, else its home nodes), the internal invoke endpoint the
    others send theirs to (for nodes only), and concurrency limits held across the nodes by grants in the
    database; plain synchronous Invokes are relayed by the front door, as the client sent them, to the node
    that runs them. Alone, nothing: the Invoker runs everything here, as it always did."""
    if cluster.peers is None:
        return PlacementPart()
    db.migrate(quota.MIGRATIONS)
    membership = cluster.membership
    forwarder = Forwarder(membership, cluster.peers, core.pools)
    grants = quota.Grants(db, membership.name, lambda: [node.name for node in membership.live()])
    grants.start()
    core.invoker.placement = forwarder
    core.invoker.quota = grants

    def draining() -> bool:
        return cluster.membership.state == DRAINING

    app = node_only(cluster.peers, ClusterInvoke(targets.resolve, core.invoker, core.pools, draining))
    relay = InvokeRelay(targets.cached, targets.resolve, forwarder, cluster.peers, core.pools, draining)
    return PlacementPart(
        mounts=(Mount("cluster-invoke", path_prefix(forward.PATH), app),),
        background=(forwarder.run, grants.run),
        relay=relay,
    )


@dataclass(frozen=True, kw_only=True)
class CloudWatchPart(Part):
    minutes: MetricMinutes


def cloudwatch(settings: Settings) -> CloudWatchPart:
    """CloudWatch's one-minute aggregates, on their own store ("metrics": <data>/metrics.db on SQLite), and
    the CloudWatch metrics API over them."""
    db = open_store(settings, "metrics")
    db.migrate(METRICS_MIGRATIONS)
    minutes = MetricMinutes(db, settings.metrics_retention_days * 86400)
    return CloudWatchPart(
        minutes=minutes,
        handlers={"cloudwatch": cloudwatch_handlers(minutes)},
        background=(minutes.run,),
        closers=(minutes.close,),
    )


def aws_namespaces(
    recorder: Recorder | None, cloudwatch: CloudWatchPart, core: ExecutionCore, queues: QueueService
) -> Part:
    """AWS/Lambda and AWS/SQS in CloudWatch, sampled from the recorder's counts, the concurrency in flight and
    the queues' depths (nothing, with LAMBKIN_METRICS=off)."""
    if recorder is None:
        return Part()
    sampler = AwsNamespaces(
        recorder, cloudwatch.minutes, core.concurrency.by_function, queues.depths, queues.activity.take
    )
    return Part(background=(sampler.run,))


@dataclass(frozen=True, kw_only=True)
class QueuesPart(Part):
    service: QueueService


def queues(settings: Settings, cluster: Cluster, *, url_region: str | None = None) -> QueuesPart:
    """The SQS-compatible queues, on their own store ("queues": <data>/queues.db on SQLite), and the SQS API.
    Each queue is served by the node that holds its lease (`queue:NAME`); requests for another's are relayed,
    and the messages lambkin sends itself reach a peer's queue through its node endpoint; every queue's
    metadata follows other nodes' changes (the bus's news). A region other than the home region names itself in
    its queue URLs (`url_region`)."""
    membership, leases = cluster.membership, cluster.leases
    owners = Owners("queue", membership, leases)
    service = open_queue_service(
        open_store(settings, "queues"), settings.region, settings.account_id, owners=owners, bus=cluster.bus
    )
    sends = node_only(cluster.peers, send_endpoint(service))
    return QueuesPart(
        service=service,
        handlers={"sqs": sqs_handlers(service, settings.endpoint, url_region)},
        mounts=(Mount("cluster-queues", path_prefix(SEND_PATH), sends),),
        background=(service.run,),
        closers=(service.db.close,),
    )


@dataclass(frozen=True, kw_only=True)
class AuthorizationPart(Part):
    authorizer: Authorizer


def authorization(settings: Settings, directory: Directory) -> AuthorizationPart:
    """Who may do what: the authorizer over IAM's directory (the account root, the server's key pair, is
    never asked about)."""
    return AuthorizationPart(authorizer=Authorizer(directory, settings.account_id))


@dataclass(frozen=True, kw_only=True)
class InvokesPart(Part):
    dispatcher: Dispatcher


def invokes(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    core: ExecutionCore,
    targets: Targets,
    queues: QueueService,
    cluster: Cluster,
) -> InvokesPart:
    """Invoke, sync and async (its Event branch stored in the store "events", then dispatched through the
    Invoker with retries, destinations and the DLQ), InvokeAsync and the EventInvokeConfig operations. With
    the control plane's `delivery`, destinations are checked against the function's role when configured,
    and every record is delivered only where the role may at that time. Any node accepts an async event; the
    node holding the function's lease (`async:FUNCTION`) dispatches it."""
    delivery = plane.delivery
    configs = EventInvokeConfigService(db, plane.arns, plane.functions, delivery=delivery)
    dispatch = DispatchSettings(scale=settings.async_retry_scale, per_function=settings.async_concurrency)
    path = build_dispatcher(
        open_store(settings, "events"),
        core.invoker,
        targets.resolve,
        configs.effective,
        queues,
        dispatch,
        Owners("async", cluster.membership, cluster.leases),
        cluster.bus,
        refused=None if delivery is None else delivery.refused,
        forward=None if cluster.peers is None else forwarder(cluster.peers),
    )
    accepted = AsyncInvokes(plane.arns, targets.resolve, path.dispatcher, configs)
    sync = invoke_handlers(targets.resolve, core.invoker, enqueue=accepted.enqueue)
    return InvokesPart(
        dispatcher=path.dispatcher,
        handlers={"lambda": {**accepted.handlers(), **sync}},
        background=(path.run,),
        closers=(path.dispatcher.store.db.close,),
    )


@dataclass(frozen=True, kw_only=True)
class HttpPart(Part):
    urls: function_urls.UrlService
    apis: HttpApis


def http(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    core: ExecutionCore,
    targets: Targets,
    keys: Keyring,
    authorizer: Decider,
) -> HttpPart:
    """The HTTP faces ahead of the AWS APIs: function URLs (by Host or /lambda-url/<id>/, AWS_IAM ones
    authorized as lambda:InvokeFunctionUrl) with their Lambda operations, and HTTP APIs (API Gateway v2's
    operations, their stages served at /execute-api/<id>/ and <id>.execute-api.<region>.*, the API named
    gateway at /gateway/ too). A routes file of an earlier version becomes that API at start."""
    public = PublicUrls.of(settings.public_url, settings.endpoint, settings.region, settings.host_urls)
    urls = function_urls.UrlService(db, plane.arns, bus=plane.bus)
    invoker = HttpInvoker(targets.resolve, core.invoker)
    url_app = FunctionUrls(
        settings.region,
        settings.account_id,
        keys,
        urls,
        invoker,
        authorizer,
        plane.policies,
    )
    migrate_routes_file(db, settings.routes_path)
    apis = HttpApis(db, settings.region, settings.account_id, bus=plane.bus)
    gateway = HttpGateway(settings.region, settings.account_id, apis, invoker, authorizer, plane.policies)
    return HttpPart(
        urls=urls,
        apis=apis,
        handlers={
            "lambda": url_handlers(urls, plane.arns, public.function_url),
            "apigatewayv2": apigw_handlers(apis, public.api),
        },
        mounts=(
            Mount("function-urls", url_app.matches, url_app),
            Mount("http-gateway", gateway.matches, gateway),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class MappingsPart(Part):
    service: MappingService


def mappings(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    core: ExecutionCore,
    targets: Targets,
    queues: QueueService,
    role_may: RoleMay | None,
    metrics: Recorder | None = None,
) -> MappingsPart:
    """Event source mappings and their operations; SQS pollers in-process, invoking through the Invoker
    (their batches counted in `metrics`). With `role_may` (the authorizer's), a function's role must be
    allowed what its poller does."""
    service = MappingService(
        mapping_store.MappingStore(db, plane.bus),
        function_lookup(plane.arns, plane.functions),
        queue_lookup(queues),
        f"arn:aws:lambda:{settings.region}:{settings.account_id}:event-source-mapping:",
        role_may=role_may,
    )
    service.load()
    sources = build_event_sources(
        service, queues, core.invoker, targets.resolve, settings.region, metrics=metrics
    )
    return MappingsPart(
        service=service,
        handlers={"lambda": esm_handlers(service, plane.arns)},
        background=(sources.run, service.refresh.run),
    )


def resource_policy(plane: ControlPlane, queues: QueueService) -> Callable[[str], str | None]:
    """The own policy of a function (by its ARN, qualified or not) or of a lambkin queue."""

    def policy(resource: str) -> str | None:
        if resource.split(":")[2:3] == ["lambda"]:
            name, qualifier = function_of(resource)
            return plane.policies.text(name, qualifier)
        queue = queues.registry.queues.get(queues.registry.name_of_arn(resource) or "")
        return None if queue is None else queue.config.policy

    return policy


def service_may(
    principal: str, account_id: str, plane: ControlPlane, queues: QueueService, authorizer: Authorizer
) -> Permitted:
    """Whether an AWS service (`principal`: events.amazonaws.com) may do an action on a function or queue,
    for a rule: as AWS asks, by the function's (or queue's) own policy, with aws:SourceArn and
    aws:SourceAccount."""
    acting = service_principal(principal)
    policy = resource_policy(plane, queues)

    def permitted(action: str, resource: str, source_arn: str) -> bool:
        keys = (("aws:SourceArn", source_arn), ("aws:SourceAccount", account_id))
        return authorizer.refusal(acting, action, resource, policy(resource), keys) is None

    return permitted


@dataclass(frozen=True, kw_only=True)
class BridgePart(Part):
    publisher: Publisher


def bridge(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    targets: Targets,
    dispatcher: Dispatcher,
    queues: QueueService,
    authorizer: Authorizer,
    cluster: Cluster,
) -> BridgePart:
    """EventBridge (docs/design/events.md): buses, rules and targets in lambkin.db, PutEvents delivering to
    functions through the async path and to queues, each as the function's or queue's policy allows."""
    service = Bridge(bridge_store.BridgeStore(db), settings.region, settings.account_id)
    service.load()
    permitted = service_may("events.amazonaws.com", settings.account_id, plane, queues, authorizer)
    forward = None if cluster.peers is None else forwarder(cluster.peers)  # to a queue another node owns
    outlets = Outlets(targets.resolve, dispatcher.accept, queues, permitted, forward=forward)
    retries = Retries(db, outlets, cluster.leases)  # per target, by its RetryPolicy, then its DLQ
    publisher = Publisher(service, retries)

    def may_put(context: RequestContext, bus_arn: str) -> str | None:
        caller = context.caller
        if not isinstance(caller, Principal):
            return None
        return authorizer.refusal(caller, "events:PutEvents", bus_arn, source_ip=context.source_ip)

    handlers = events_handlers(service, publisher, may_put)
    return BridgePart(publisher=publisher, handlers={"events": handlers}, background=(retries.run,))


def schedules(
    settings: Settings,
    db: Store,
    publisher: Publisher,
    plane: ControlPlane,
    targets: Targets,
    dispatcher: Dispatcher,
    queues: QueueService,
    authorizer: Authorizer,
    cluster: Cluster,
) -> Part:
    """Scheduled rules and Scheduler's schedules (docs/design/events.md): the Scheduler API, and the
    timer that fires both on the node holding the lease timer:schedules. A schedule delivers with its
    execution role (RoleArn), as Scheduler does: the role must be allowed to invoke or send."""
    can_assume = scheduler_can_assume(authorizer.directory)  # a schedule's role must trust Scheduler
    service = scheduler_store.Schedules(db, settings.region, settings.account_id, can_assume)
    service.load()
    policy = resource_policy(plane, queues)

    def role_may(action: str, resource: str, source_arn: str) -> bool:
        schedule = service.by_arn(source_arn)
        role = "" if schedule is None else str(schedule["Target"].get("RoleArn") or "")
        return bool(role) and authorizer.role_may(role, "scheduler", action, resource, policy(resource))

    outlets = Outlets(
        targets.resolve,
        dispatcher.accept,
        queues,
        role_may,
        principal="scheduler.amazonaws.com",
        forward=None if cluster.peers is None else forwarder(cluster.peers),  # to a queue another node owns
    )
    firings = FiringStore(db)
    timer = Timer(
        firings, [ScheduledRules(publisher), ScheduledTargets(service, outlets, firings)], cluster.leases
    )
    background: tuple[BackgroundTask, ...] = (timer.run,)
    if cluster.clustered:  # rules and schedules written on other nodes: the timer's node must fire them too
        background += (lambda: refresh_periodically((publisher.bridge.refresh, service.refresh)),)
    return Part(handlers={"scheduler": scheduler_handlers(service, firings)}, background=background)


def action_tables(settings: Settings, plane: ControlPlane, queues: QueueService) -> dict[str, ActionTable]:
    """The IAM action of every operation of the services lambkin serves, by service (IAM's and STS's for
    every operation of their models, whichever of them are served)."""
    return {
        "lambda": lambda_actions(plane.arns, plane.policies),
        "sqs": sqs_actions(queues.registry),
        "logs": logs_actions(),
        "cloudwatch": cloudwatch_actions(),
        "events": events_actions(),
        "scheduler": scheduler_actions(),
        "iam": iam_actions(settings.account_id, service_index("iam").operations),
        "sts": sts_actions(service_index("sts").operations),
        "apigatewayv2": apigw_actions(service_index("apigatewayv2").operations.values()),
    }


def aws(
    settings: Settings,
    parts: Sequence[Part],
    keys: Keyring,
    tables: Mapping[str, ActionTable],
    authorizer: Decider,
    relayer: Relayer | None = None,
) -> AwsAsgi:
    """The AWS APIs (SigV4, botocore models) over every part's handlers, each operation authorized by its
    rule in `tables` (an operation without one is refused here, as is one two parts register: wiring
    mistakes, rather than an open door or one handler silently replacing the other); `relayer` (a
    cluster's) relays requests whose work another node owns."""
    services: dict[str, dict[str, Handler]] = {name: {} for name in AWS_SERVICES}
    for part in parts:
        for service, handlers in part.handlers.items():
            known = services.setdefault(service, {})
            twice = sorted(known.keys() & handlers.keys())
            if twice:
                raise ValueError(f"{service} operations wired twice: {', '.join(twice)}")
            known.update(handlers)
    authorize = build_authorize(authorizer, tables, services)
    return AwsAsgi(
        AwsGateway(
            services,
            settings.account_id,
            keys,
            authorize=authorize,
            region=settings.region,
            relayer=relayer,
        )
    )


def console(
    settings: Settings,
    aws: AwsAsgi,
    db: Store,
    keys: Keyring,
    pools: Pools,
    catalog: Catalog,
    authorizer: Authorizer,
) -> Mount:
    """The web console at /console: signed in with an access key, it does what that key may do, through the
    gateway's own handlers and authorization (docs/design/console.md); the registry's images it lists are
    those the key may describe (ecr:DescribeImages on the repository). Its sessions are kept in `db`, where
    every node finds them."""

    async def images(caller: Caller) -> list[ImageSummary]:
        assert isinstance(caller, Principal)
        prefix = f"arn:aws:ecr:{settings.region}:{settings.account_id}:repository/"
        return [
            image
            for image in await catalog.images()
            if authorizer.refusal(caller, "ecr:DescribeImages", prefix + image.repository) is None
        ]

    app = Console(aws.gateway, ConsoleSessions(keys, db), pools.by_function, images, settings.region)
    return Mount("console", path_prefix(CONSOLE_PREFIX), app)


# --- metrics (issue 21: Prometheus) -------------------------------------------------------------------------


def recording(settings: Settings) -> Recorder | None:
    """Where invocations, cold starts, requests and mapping batches are counted (None: LAMBKIN_METRICS=off)."""
    return Recorder() if settings.metrics else None


def metrics(
    settings: Settings,
    recorder: Recorder | None,
    plane: ControlPlane,
    core: ExecutionCore,
    queues: QueueService,
    dispatcher: Dispatcher,
    mappings: MappingService,
    keys: Keyring,
) -> Part:
    """GET /metrics for Prometheus, behind the bearer token LAMBKIN_METRICS_TOKEN or the account root's
    signature (refused to everyone without the token set)."""
    sources = Sources(
        pools=core.pools,
        concurrency=core.concurrency,
        versions=plane.functions.version_keys,
        mappings=lambda: mappings.mappings.keys(),
        queues=queues.depths,
        async_events=dispatcher.store.waiting,
        now=time.time,
    )
    counted = recorder if recorder is not None else Recorder()  # counting off: the gauges alone
    app = MetricsApp(settings.metrics_token, lambda: scrape(counted, sources), keys)
    return Part(mounts=(Mount("metrics", path_prefix(METRICS_PATH), app),))
