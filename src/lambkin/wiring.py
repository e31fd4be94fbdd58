"""The parts' wirings: each part of the server built from Settings, and what it adds to the whole.

One function per part returns a frozen `Part`: its AWS API handlers by service, its HTTP mounts, its
background loops and its closers, plus the objects the parts after it need. `app.build()` calls them in
order and composes what they return; nothing here starts anything.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambkin.api.authorize import ActionTable, Decider, build_authorize
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.function_urls import FunctionUrls, HttpInvoker
from lambkin.api.http_gateway import HttpGateway
from lambkin.api.iam_actions import iam_actions, sts_actions
from lambkin.api.iam_api import handlers as iam_handlers
from lambkin.api.lambda_actions import lambda_actions
from lambkin.api.lambda_api import handlers as lambda_handlers
from lambkin.api.lambda_async import AsyncInvokes
from lambkin.api.lambda_esm import esm_handlers, function_lookup
from lambkin.api.lambda_invoke import invoke_handlers
from lambkin.api.lambda_urls import url_handlers
from lambkin.api.logs_actions import logs_actions
from lambkin.api.logs_api import logs_handlers
from lambkin.api.registry import RegistryApp
from lambkin.api.registry_access import RegistryAccess
from lambkin.api.root import Mount, path_prefix
from lambkin.api.sqs_actions import sqs_actions
from lambkin.api.sqs_api import handlers as sqs_handlers
from lambkin.api.sts_api import sts_handlers
from lambkin.config import SettingInvalid, Settings
from lambkin.environments.aws_endpoint import EndpointBackend, own_endpoint
from lambkin.environments.pool import PoolSettings
from lambkin.events import mapping_store
from lambkin.events.http.routes import RouteTable
from lambkin.events.mapping_service import MappingService, RoleMay, queue_lookup
from lambkin.events.pollers import build_event_sources
from lambkin.functions import event_invoke_config, policies
from lambkin.functions import provisioned as provisioned_configs
from lambkin.functions import repository as function_store
from lambkin.functions import urls as function_urls
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.event_invoke_config import EventInvokeConfigService
from lambkin.functions.service import RoleCheck
from lambkin.identity import iam_store
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.directory import Directory
from lambkin.identity.execution_roles import lambda_can_assume
from lambkin.identity.function_credentials import FunctionCredentials
from lambkin.identity.iam import Iam
from lambkin.identity.iam_documents import check_document
from lambkin.identity.keys import Keyring
from lambkin.identity.sts import Sts
from lambkin.images import catalog as image_catalog
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog
from lambkin.images.gc import collect_periodically
from lambkin.images.service import ImageService, build_image_service
from lambkin.images.unpack import ImageLimits
from lambkin.images.uploads import Uploads
from lambkin.invoke.async_core import build_dispatcher
from lambkin.invoke.async_dispatcher import DispatchSettings
from lambkin.invoke.core import ExecutionCore, build_execution
from lambkin.invoke.provisioning import ProvisionedKeeper
from lambkin.invoke.targets import Targets
from lambkin.logs.store import LogStore
from lambkin.network import policy as network_policy
from lambkin.network import vpc
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.model import service_index
from lambkin.protocol.service import Handler
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxBackend
from lambkin.store import Migration, Store, open_store

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], None]
# The AWS APIs lambkin serves, in the order the gateway knows them (Lambda first: its fallback service).
AWS_SERVICES = ("lambda", "sqs", "logs", "iam", "sts")


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
    steps += function_urls.MIGRATIONS
    steps += policies.MIGRATIONS
    steps += provisioned_configs.MIGRATIONS
    steps += event_invoke_config.MIGRATIONS
    steps += mapping_store.MIGRATIONS
    steps += iam_store.MIGRATIONS
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
class IamPart(Part):
    iam: Iam
    role_check: RoleCheck


def iam(settings: Settings, db: Store) -> IamPart:
    """IAM's roles, users, keys and policies (loaded from the database), the IAM API, and the check that
    Lambda may assume a function's role."""
    service = Iam(db, settings.account_id, check_document)
    service.load()
    return IamPart(
        iam=service, role_check=lambda_can_assume(service), handlers={"iam": iam_handlers(service)}
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


def images(settings: Settings, db: Store, keys: Keyring, authorizer: Authorizer) -> ImagesPart:
    """Blobs and the catalog, the registry at /v2/ (first: nothing else claims its paths; its requests are
    authorized as ecr: actions), blob collection."""
    blobs = BlobStore(settings.data_dir / "blobs")
    catalog = Catalog(db, blobs)
    access = RegistryAccess(keys, authorizer, settings.region, settings.account_id)
    registry = RegistryApp(catalog, Uploads(db, blobs, catalog), blobs, access)
    try:
        service = build_image_service(
            settings.data_dir,
            settings.host,
            settings.port,
            catalog,
            ImageLimits(settings.image_max_bytes, settings.image_max_files),
            settings.private_registries,
            settings.insecure_registries,
        )
    except ValueError as exc:
        raise SettingInvalid(f"LAMBKIN_PRIVATE_REGISTRIES or LAMBKIN_INSECURE_REGISTRIES: {exc}") from None
    return ImagesPart(
        service=service,
        mounts=(Mount("registry", path_prefix("/v2"), registry),),
        background=(lambda: collect_periodically(db, blobs, settings.image_gc_interval_s),),
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
        settings.network, settings.network_range, settings.network_deny, settings.network_dns
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
) -> FunctionsPart:
    """The control plane (functions, versions, aliases, account) and its Lambda operations; a function's
    role must be one Lambda may assume (`role_check`) and, with `role_may` (the authorizer's), be allowed to
    send to its dead-letter queue and to reach its destinations (a queue's own policy counts too)."""
    find_queue = queue_lookup(queues)

    def queue_policy(arn: str) -> str | None:
        queue = find_queue(arn)
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
    )
    return FunctionsPart(plane=plane, handlers={"lambda": lambda_handlers(plane)}, background=(plane.run,))


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
) -> ExecutionPart:
    """Environment pools on the sandboxes, the Invoker, provisioned concurrency kept warm, and function logs
    with the Logs API. Functions reach lambkin's own AWS API from their sandbox (environments/aws_endpoint.py),
    signing as a session of their execution role (identity/function_credentials.py)."""
    logs = LogStore(settings.data_dir / "logs", retention_s=settings.log_retention_days * 86400)
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
    )
    targets = Targets(plane.functions)
    keeper = ProvisionedKeeper(plane.provisioned, targets.resolve, core.pools)
    return ExecutionPart(
        core=core,
        targets=targets,
        handlers={"logs": logs_handlers(logs)},
        background=(core.pools.run, keeper.run),
        closers=(logs.close,),
    )


@dataclass(frozen=True, kw_only=True)
class QueuesPart(Part):
    service: QueueService


def queues(settings: Settings) -> QueuesPart:
    """The SQS-compatible queues, on their own store ("queues": <data>/queues.db on SQLite), and the SQS API."""
    service = open_queue_service(open_store(settings, "queues"), settings.region, settings.account_id)
    return QueuesPart(
        service=service,
        handlers={"sqs": sqs_handlers(service, settings.endpoint)},
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


def invokes(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    core: ExecutionCore,
    targets: Targets,
    queues: QueueService,
) -> Part:
    """Invoke, sync and async (its Event branch stored in the store "events", then dispatched through the
    Invoker with retries, destinations and the DLQ), InvokeAsync and the EventInvokeConfig operations. With
    the control plane's `delivery`, destinations are checked against the function's role when configured,
    and every record is delivered only where the role may at that time."""
    delivery = plane.delivery
    configs = EventInvokeConfigService(db, plane.arns, plane.functions, delivery=delivery)
    dispatch = DispatchSettings(scale=settings.async_retry_scale, per_function=settings.async_concurrency)
    dispatcher = build_dispatcher(
        open_store(settings, "events"),
        core.invoker,
        targets.resolve,
        configs.effective,
        queues,
        dispatch,
        refused=None if delivery is None else delivery.refused,
    )
    accepted = AsyncInvokes(plane.arns, targets.resolve, dispatcher, configs)
    sync = invoke_handlers(targets.resolve, core.invoker, enqueue=accepted.enqueue)
    return Part(
        handlers={"lambda": {**accepted.handlers(), **sync}},
        background=(dispatcher.run,),
        closers=(dispatcher.store.db.close,),
    )


def http(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    core: ExecutionCore,
    targets: Targets,
    keys: Keyring,
    authorizer: Decider,
) -> Part:
    """The HTTP faces ahead of the AWS APIs: function URLs (by Host or /lambda-url/<id>/, AWS_IAM ones
    authorized as lambda:InvokeFunctionUrl) with their Lambda operations, and the HTTP gateway's routes (at
    /gateway/ and *.gateway.localhost)."""
    urls = function_urls.UrlService(db, plane.arns)
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
    gateway = HttpGateway(settings.region, settings.account_id, RouteTable(settings.routes_path), invoker)
    return Part(
        handlers={"lambda": url_handlers(urls, plane.arns, settings.port)},
        mounts=(
            Mount("function-urls", url_app.matches, url_app),
            Mount("http-gateway", gateway.matches, gateway),
        ),
    )


def mappings(
    settings: Settings,
    db: Store,
    plane: ControlPlane,
    core: ExecutionCore,
    targets: Targets,
    queues: QueueService,
    role_may: RoleMay | None,
) -> Part:
    """Event source mappings and their operations; SQS pollers in-process, invoking through the Invoker.
    With `role_may` (the authorizer's), a function's role must be allowed what its poller does."""
    service = MappingService(
        mapping_store.MappingStore(db),
        function_lookup(plane.arns, plane.functions),
        queue_lookup(queues),
        f"arn:aws:lambda:{settings.region}:{settings.account_id}:event-source-mapping:",
        role_may=role_may,
    )
    service.load()
    sources = build_event_sources(service, queues, core.invoker, targets.resolve, settings.region)
    return Part(handlers={"lambda": esm_handlers(service, plane.arns)}, background=(sources.run,))


def action_tables(settings: Settings, plane: ControlPlane, queues: QueueService) -> dict[str, ActionTable]:
    """The IAM action of every operation of the services lambkin serves, by service (IAM's and STS's for
    every operation of their models, whichever of them are served)."""
    return {
        "lambda": lambda_actions(plane.arns, plane.policies),
        "sqs": sqs_actions(queues.registry),
        "logs": logs_actions(),
        "iam": iam_actions(settings.account_id, service_index("iam").operations),
        "sts": sts_actions(service_index("sts").operations),
    }


def aws(
    settings: Settings,
    parts: Sequence[Part],
    keys: Keyring,
    tables: Mapping[str, ActionTable],
    authorizer: Decider,
) -> AwsAsgi:
    """The AWS APIs (SigV4, botocore models) over every part's handlers, each operation authorized by its
    rule in `tables` (an operation without one is refused here, as is one two parts register: wiring
    mistakes, rather than an open door or one handler silently replacing the other)."""
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
        AwsGateway(services, settings.account_id, keys, authorize=authorize, region=settings.region)
    )
