"""What users and operators see: the AWS APIs' gateway, the console, CloudWatch metrics and Prometheus'
/metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from lambkin.api.authorize import ActionTable, Decider, build_authorize
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.console import PREFIX as CONSOLE_PREFIX
from lambkin.api.console import Console
from lambkin.api.console_sessions import ConsoleSessions
from lambkin.api.metrics_api import PATH as METRICS_PATH
from lambkin.api.metrics_api import MetricsApp, Sources, scrape
from lambkin.api.root import Mount, path_prefix
from lambkin.config import Settings
from lambkin.environments.pool import Pools
from lambkin.events.mapping_service import MappingService
from lambkin.functions.control import ControlPlane
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.keys import Keyring
from lambkin.identity.principals import Principal
from lambkin.images.catalog import Catalog, ImageSummary
from lambkin.invoke.async_dispatcher import Dispatcher
from lambkin.invoke.core import ExecutionCore
from lambkin.metrics.aws_namespaces import AwsNamespaces
from lambkin.metrics.recorder import Recorder
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.service import Caller, Handler, Relayer
from lambkin.queues.service import QueueService
from lambkin.store import Store
from lambkin.wiring.parts import AWS_SERVICES, CloudWatchPart, Part


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
