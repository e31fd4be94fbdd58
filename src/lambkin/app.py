"""The composition root: builds lambkin's object graph from Settings and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import uvicorn

from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.front_door import front_door
from lambkin.api.function_urls import FunctionUrls, HttpInvoker
from lambkin.api.http_gateway import HttpGateway
from lambkin.api.lambda_api import handlers as lambda_handlers
from lambkin.api.lambda_async import AsyncInvokes
from lambkin.api.lambda_async import resolver as resolver_for
from lambkin.api.lambda_esm import esm_handlers, function_lookup
from lambkin.api.lambda_invoke import invoke_handlers
from lambkin.api.lambda_urls import url_handlers
from lambkin.api.logs_api import logs_handlers
from lambkin.api.registry import RegistryApp
from lambkin.api.root import Mount, RootApp, always, path_prefix
from lambkin.api.sqs_api import handlers as sqs_handlers
from lambkin.config import Settings, routes_file
from lambkin.environments.aws_endpoint import EndpointBackend, own_endpoint
from lambkin.events import mapping_store
from lambkin.events.http.routes import RouteTable
from lambkin.events.mapping_service import MappingService, queue_lookup
from lambkin.events.pollers import build_event_sources
from lambkin.functions import event_invoke_config
from lambkin.functions import provisioned as provisioned_configs
from lambkin.functions import repository as function_store
from lambkin.functions import urls as function_urls
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.event_invoke_config import EventInvokeConfigService
from lambkin.images import catalog as image_catalog
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog
from lambkin.images.gc import collect_periodically
from lambkin.images.service import ImageService, build_image_service
from lambkin.images.uploads import Uploads
from lambkin.invoke.async_core import build_dispatcher
from lambkin.invoke.core import ExecutionCore, build_execution
from lambkin.invoke.provisioning import ProvisionedKeeper
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.service import Handler
from lambkin.queues.service import QueueService, open_queue_service
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxBackend
from lambkin.store.db import Database, Migration

log = logging.getLogger("lambkin")

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Lambkin:
    """Everything one lambkin process runs: its database, its HTTP surfaces, its background loops."""

    settings: Settings
    db: Database
    mounts: list[Mount] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    sandboxes: SandboxBackend | None = None
    images: ImageService | None = None
    control_plane: ControlPlane | None = None
    queues: QueueService | None = None
    execution: ExecutionCore | None = None
    # AWS API handlers by botocore service name, then operation; each part's wiring adds its own.
    services: dict[str, dict[str, Handler]] = field(
        default_factory=lambda: {"lambda": {}, "sqs": {}, "logs": {}}
    )

    @property
    def asgi(self) -> RootApp:
        return RootApp(self.mounts)

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Serves HTTP and runs every background loop until cancelled or the server stops."""
        root = self.asgi
        aws = next((m.app for m in self.mounts if isinstance(m.app, AwsAsgi)), None)
        # uvicorn only calls its `http` class with keyword arguments: a factory function serves as well
        poll = self.execution.pools.poll if self.execution is not None else None
        protocol = cast(type[asyncio.Protocol], front_door(root, aws, poll)) if aws else "httptools"
        config = uvicorn.Config(
            root,
            host=self.settings.host,
            port=self.settings.port,
            loop="none",
            # AWS API requests are answered by the front door itself; other surfaces by uvicorn's protocol.
            http=protocol,
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=75,
            # A long poll or a slow invoke does not hold shutdown (and the sandboxes' clean-up) forever.
            timeout_graceful_shutdown=10,
        )
        logging.getLogger("uvicorn.error").addFilter(_quiet_tls_probes)
        server = _Server(config)
        try:
            async with asyncio.TaskGroup() as group:
                for task in self.background:
                    group.create_task(task())
                serving = group.create_task(server.serve())
                # uvicorn offers no readiness event, only this flag.
                while not server.started and not serving.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                if ready is not None and server.started:
                    ready()
                await serving
                raise _Stopped
        except* _Stopped:
            pass
        finally:
            self.close()

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down, which would end the process before the
    background loops clean up (environments destroy their sandboxes); lambkin returns normally instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _quiet_tls_probes(record: logging.LogRecord) -> bool:
    """skopeo and buildah try TLS on the registry's port before plain HTTP (--tls-verify=false): the
    handshake is not HTTP, uvicorn answers 400 and would warn about it on every push."""
    return not record.getMessage().startswith("Invalid HTTP request received")


class _Stopped(Exception):
    """Raised inside the task group once the HTTP server returns, to cancel the background loops."""


def migrations() -> list[Migration]:
    """Every part's schema steps."""
    steps: list[Migration] = []
    steps += image_catalog.MIGRATIONS
    steps += function_store.MIGRATIONS
    steps += function_urls.MIGRATIONS
    steps += provisioned_configs.MIGRATIONS
    steps += event_invoke_config.MIGRATIONS
    steps += mapping_store.MIGRATIONS
    return steps


def build(settings: Settings) -> Lambkin:
    """Builds the whole server from its settings. Nothing starts until `serve()`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.data_dir / "lambkin.db")
    db.migrate(migrations())
    app = Lambkin(settings=settings, db=db)
    app.closers.append(db.close)
    blobs = BlobStore(settings.data_dir / "blobs")
    catalog = Catalog(db, blobs)
    app.images = build_image_service(settings, catalog)
    registry = RegistryApp(catalog, Uploads(db, blobs, catalog), blobs, settings.credentials)
    app.mounts.insert(0, Mount("registry", path_prefix("/v2"), registry))
    app.background.append(lambda: collect_periodically(db, blobs, settings.image_gc_interval_s))
    app.sandboxes = RuncBackend(settings.data_dir)
    app.background.append(app.sandboxes.cleanup_leftovers)  # create() waits for it
    app.control_plane = build_control_plane(
        db,
        settings.region,
        settings.account_id,
        app.images,
        concurrency_limit=settings.account_concurrency,
    )
    app.background.append(app.control_plane.run)
    app.services["lambda"].update(lambda_handlers(app.control_plane))
    # The execution core: environment pools on the sandboxes, sync Invoke, function logs.
    # Functions reach lambkin's own AWS API from inside their sandbox (AWS_ENDPOINT_URL; environments/aws_endpoint.py).
    endpoint = own_endpoint(settings.host, settings.port, settings.credentials)
    app.execution = build_execution(settings, EndpointBackend(app.sandboxes, endpoint), app.images)
    app.closers.append(app.execution.close)
    app.background.append(app.execution.pools.run)
    keeper = ProvisionedKeeper(
        app.control_plane.provisioned, app.control_plane.functions, app.execution.pools
    )
    app.background.append(keeper.run)
    app.services["lambda"].update(invoke_handlers(app.control_plane.functions, app.execution.invoker))
    app.services["logs"].update(logs_handlers(app.execution.logs))
    # The SQS-compatible queues, on their own SQLite file (<data>/queues.db).
    app.queues = open_queue_service(settings.data_dir / "queues.db", settings.region, settings.account_id)
    app.closers.append(app.queues.db.close)
    app.background.append(app.queues.run)
    app.services["sqs"].update(sqs_handlers(app.queues, settings.endpoint))
    # Async invoke: events on <data>/events.db, a dispatcher through the Invoker, destinations, DLQ.
    configs = EventInvokeConfigService(db, app.control_plane.arns, app.control_plane.functions)
    dispatcher = build_dispatcher(
        settings.data_dir,
        app.execution.invoker,
        resolver_for(app.control_plane.functions),
        configs.effective,
        app.queues,
    )
    app.closers.append(dispatcher.store.db.close)
    app.background.append(dispatcher.run)
    async_invokes = AsyncInvokes(app.control_plane.arns, app.control_plane.functions, dispatcher, configs)
    app.services["lambda"].update(async_invokes.handlers())
    app.services["lambda"].update(
        invoke_handlers(app.control_plane.functions, app.execution.invoker, enqueue=async_invokes.enqueue)
    )
    # HTTP front doors: function URLs (by Host or /lambda-url/<id>/), ahead of the AWS APIs.
    urls = function_urls.UrlService(db, app.control_plane.arns)
    app.services["lambda"].update(url_handlers(urls, app.control_plane.arns, settings.port))
    http_invoker = HttpInvoker(app.control_plane.functions, app.execution.invoker)
    url_app = FunctionUrls(settings, urls, http_invoker)
    app.mounts.append(Mount("function-urls", url_app.matches, url_app))
    # The HTTP gateway: routes from <data>/routes.json ($LAMBKIN_ROUTES), at /gateway/ and *.gateway.localhost.
    gateway = HttpGateway(settings, RouteTable(routes_file(settings.data_dir)), http_invoker)
    app.mounts.append(Mount("http-gateway", gateway.matches, gateway))
    # Event source mappings: SQS pollers in-process, invoking through the Invoker.
    mappings = MappingService(
        mapping_store.MappingStore(db),
        function_lookup(app.control_plane.arns, app.control_plane.functions),
        queue_lookup(app.queues),
        f"arn:aws:lambda:{settings.region}:{settings.account_id}:event-source-mapping:",
    )
    mappings.load()
    app.services["lambda"].update(esm_handlers(mappings, app.control_plane.arns))
    event_sources = build_event_sources(
        mappings,
        app.queues,
        app.execution.invoker,
        resolver_for(app.control_plane.functions),
        settings.region,
    )
    app.background.append(event_sources.run)
    # The AWS APIs (SigV4, botocore models) answer everything no other mount claimed: keep it last.
    aws = AwsGateway(app.services, settings.account_id, settings.credentials.secret_for)
    app.mounts.append(Mount("aws", always, AwsAsgi(aws)))
    return app
