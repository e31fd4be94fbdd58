"""The composition root: builds lambkin's object graph from Settings, part by part (wiring.py), and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import uvicorn

from lambkin import wiring
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.api.front_door import front_door
from lambkin.api.root import Mount, RootApp, always
from lambkin.config import Settings
from lambkin.functions.control import ControlPlane
from lambkin.http11.limits import HeadLimits
from lambkin.images.service import ImageService
from lambkin.invoke.core import ExecutionCore
from lambkin.queues.service import QueueService
from lambkin.sandbox.spec import SandboxBackend
from lambkin.store import Store
from lambkin.wiring import BackgroundTask, Closer

log = logging.getLogger("lambkin")


@dataclass(frozen=True)
class Lambkin:
    """Everything one lambkin process runs: its parts, its HTTP surfaces, its background loops."""

    settings: Settings
    db: Store
    images: ImageService
    sandboxes: SandboxBackend
    control_plane: ControlPlane
    execution: ExecutionCore
    queues: QueueService
    aws: AwsAsgi  # the AWS APIs: the last mount, answering every request no other mount claimed
    mounts: tuple[Mount, ...]
    background: tuple[BackgroundTask, ...]
    closers: tuple[Closer, ...]

    @property
    def asgi(self) -> RootApp:
        return RootApp(list(self.mounts))

    async def serve(
        self, ready: Callable[[], None] | None = None, beside: Sequence[BackgroundTask] = ()
    ) -> None:
        """Serves HTTP and runs every background loop, and `beside`'s, until cancelled or the server stops."""
        root = self.asgi
        # uvicorn only calls its `http` class with keyword arguments: a factory function serves as well;
        # AWS API requests are answered by the front door itself, other surfaces by uvicorn's protocol.
        limits = HeadLimits(
            self.settings.header_line_limit, self.settings.head_limit, self.settings.head_deadline_s
        )
        protocol = cast(type[asyncio.Protocol], front_door(root, self.aws, self.execution.pools.poll, limits))
        config = uvicorn.Config(
            root,
            host=self.settings.host,
            port=self.settings.port,
            loop="none",
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
                for task in (*self.background, *beside):
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
        """Runs every part's closers, the last part's first. Once: `serve()` does it as it returns."""
        for closer in reversed(self.closers):
            closer()


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


def build(settings: Settings) -> Lambkin:
    """Builds the whole server from its settings, one part after another. Nothing starts until `serve()`."""
    store = wiring.store(settings)
    iam = wiring.iam(settings, store.db)
    identity = wiring.identity(settings, iam.iam)
    authorization = wiring.authorization(settings, iam.iam)
    images = wiring.images(settings, store.db, identity.keys, authorization.authorizer)
    vpcs = wiring.vpcs(settings)
    sandboxes = wiring.sandboxes(settings, vpcs)
    queues = wiring.queues(settings)
    functions = wiring.functions(
        settings,
        store.db,
        images.service,
        iam.role_check,
        authorization.authorizer.role_may,
        queues.service,
        vpcs,
    )
    execution = wiring.execution(settings, sandboxes.backend, images.service, functions.plane, identity)
    invokes = wiring.invokes(
        settings, store.db, functions.plane, execution.core, execution.targets, queues.service
    )
    http = wiring.http(
        settings,
        store.db,
        functions.plane,
        execution.core,
        execution.targets,
        identity.keys,
        authorization.authorizer,
    )
    mappings = wiring.mappings(
        settings,
        store.db,
        functions.plane,
        execution.core,
        execution.targets,
        queues.service,
        authorization.authorizer.role_may,
    )
    parts = (
        store,
        iam,
        identity,
        authorization,
        images,
        sandboxes,
        functions,
        execution,
        queues,
        invokes,
        http,
        mappings,
    )
    tables = wiring.action_tables(settings, functions.plane, queues.service)
    aws = wiring.aws(settings, parts, identity.keys, tables, authorization.authorizer)
    return Lambkin(
        settings=settings,
        db=store.db,
        images=images.service,
        sandboxes=sandboxes.backend,
        control_plane=functions.plane,
        execution=execution.core,
        queues=queues.service,
        aws=aws,
        mounts=(*(mount for part in parts for mount in part.mounts), Mount("aws", always, aws)),
        background=tuple(task for part in parts for task in part.background),
        closers=tuple(closer for part in parts for closer in part.closers),
    )
