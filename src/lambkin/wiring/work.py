"""What brings functions work: queues, async invokes, HTTP (function URLs and HTTP APIs), event source
mappings, event buses and schedules."""

from __future__ import annotations

from dataclasses import dataclass

from lambkin.api.apigw_api import apigw_handlers
from lambkin.api.authorize import Decider
from lambkin.api.cluster_queues import PATH as SEND_PATH
from lambkin.api.cluster_queues import forwarder, send_endpoint
from lambkin.api.events_api import handlers as events_handlers
from lambkin.api.function_urls import FunctionUrls, HttpInvoker
from lambkin.api.http_gateway import HttpGateway
from lambkin.api.http_urls import PublicUrls
from lambkin.api.lambda_async import AsyncInvokes
from lambkin.api.lambda_esm import esm_handlers, function_lookup
from lambkin.api.lambda_invoke import invoke_handlers
from lambkin.api.lambda_urls import url_handlers
from lambkin.api.node_only import node_only
from lambkin.api.root import Mount, path_prefix
from lambkin.api.scheduler_api import handlers as scheduler_handlers
from lambkin.api.sqs_api import handlers as sqs_handlers
from lambkin.cluster import Cluster
from lambkin.cluster.owners import Owners
from lambkin.config import Settings
from lambkin.events import mapping_store
from lambkin.events.bridge import store as bridge_store
from lambkin.events.bridge.outlets import Outlets
from lambkin.events.bridge.publish import Publisher
from lambkin.events.bridge.retries import Retries
from lambkin.events.bridge.service import Bridge
from lambkin.events.http.api_service import HttpApis
from lambkin.events.http.routes import migrate_routes_file
from lambkin.events.mapping_service import MappingService, RoleMay, queue_lookup
from lambkin.events.pollers import build_event_sources
from lambkin.events.schedules import scheduler as scheduler_store
from lambkin.events.schedules.firings import FiringStore
from lambkin.events.schedules.rules import ScheduledRules
from lambkin.events.schedules.scheduled import ScheduledTargets
from lambkin.events.schedules.timer import Timer, refresh_periodically
from lambkin.functions import urls as function_urls
from lambkin.functions.control import ControlPlane
from lambkin.functions.event_invoke_config import EventInvokeConfigService
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.execution_roles import scheduler_can_assume
from lambkin.identity.keys import Keyring
from lambkin.identity.principals import Principal
from lambkin.invoke.async_core import build_dispatcher
from lambkin.invoke.async_dispatcher import Dispatcher, DispatchSettings
from lambkin.invoke.core import ExecutionCore
from lambkin.invoke.targets import Targets
from lambkin.metrics.recorder import Recorder
from lambkin.protocol.service import RequestContext
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.store import Store, open_store
from lambkin.wiring.identity import resource_policy, service_may
from lambkin.wiring.parts import BackgroundTask, Part


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
