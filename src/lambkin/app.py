"""The composition root: builds lambkin's object graph from Settings, part by part (the wiring package), and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import cast

import uvicorn

from lambkin import regions, wiring
from lambkin.api.aws_regions import RegionalAws
from lambkin.api.front_door import front_door
from lambkin.api.function_urls import URL_HOST
from lambkin.api.http_regions import Face, Knows, RegionalFace
from lambkin.api.http_urls import API_HOST, API_PREFIX, URL_PREFIX
from lambkin.api.invoke_relay import InvokeRelay
from lambkin.api.root import Mount, RootApp, always
from lambkin.cluster import READY, STARTING, Cluster
from lambkin.cluster.drain import Drain, drain_settings
from lambkin.config import Settings, served_regions
from lambkin.events.http.api_service import HttpApis
from lambkin.functions.control import ControlPlane
from lambkin.functions.urls import UrlService
from lambkin.http11.limits import HeadLimits
from lambkin.images.service import ImageService
from lambkin.invoke.core import ExecutionCore
from lambkin.metrics.recorder import Recorder
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
    cluster: Cluster
    images: ImageService
    sandboxes: SandboxBackend
    control_plane: ControlPlane
    execution: ExecutionCore
    queues: QueueService
    aws: (
        RegionalAws  # every region's AWS APIs: the last mount, answering every request no other mount claimed
    )
    mounts: tuple[Mount, ...]
    background: tuple[BackgroundTask, ...]
    closers: tuple[Closer, ...]
    drain: Drain  # what SIGTERM does: see cluster/drain.py
    invoke_relay: InvokeRelay | None = None  # in a cluster: the front door's relay of Invokes (placement)
    metrics: Recorder | None = None  # where requests are counted (None: LAMBKIN_METRICS=off)

    @property
    def asgi(self) -> RootApp:
        membership = self.cluster.membership
        return RootApp(list(self.mounts), state=lambda: membership.state, metrics=self.metrics)

    async def serve(
        self, ready: Callable[[], None] | None = None, beside: Sequence[BackgroundTask] = ()
    ) -> None:
        """Serves HTTP and runs every background loop, and `beside`'s, until cancelled or the server stops.
        The first SIGTERM drains this node before the server stops; its leases are handed back at the end."""
        root = self.asgi
        # uvicorn only calls its `http` class with keyword arguments: a factory function serves as well;
        # AWS API requests are answered by the front door itself, other surfaces by uvicorn's protocol.
        limits = HeadLimits(
            self.settings.header_line_limit, self.settings.head_limit, self.settings.head_deadline_s
        )
        door = front_door(root, self.aws, self.execution.pools.poll, limits, self.invoke_relay, self.metrics)
        protocol = cast(type[asyncio.Protocol], door)
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
        terminated = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_terminate() -> None:  # in a signal handler: the loop is told through its self-pipe
            loop.call_soon_threadsafe(terminated.set)

        server = _Server(config, on_terminate=on_terminate)

        async def drain_when_terminated() -> None:
            await terminated.wait()
            self.drain.begin()
            await self.drain.settle()
            server.should_exit = True

        try:
            async with asyncio.TaskGroup() as group:
                for task in (*self.background, *beside, drain_when_terminated):
                    group.create_task(task())
                serving = group.create_task(server.serve())
                # uvicorn offers no readiness event, only this flag.
                while not server.started and not serving.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                if server.started and self.cluster.membership.state == STARTING:  # not already draining
                    self.cluster.membership.set_state(READY)
                if ready is not None and server.started:
                    ready()
                await serving
                raise _Stopped
        except* _Stopped:
            pass
        finally:
            await self.drain.hand_back()  # the loops are over: nothing of this node's work runs any more
            self.close()

    def close(self) -> None:
        """Runs every part's closers, the last part's first. Once: `serve()` does it as it returns."""
        for closer in reversed(self.closers):
            closer()


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down, which would end the process before the
    background loops clean up (environments destroy their sandboxes); lambkin returns normally instead.
    The first SIGTERM only calls `on_terminate` (the drain, which then stops the server); a second one stops
    the server at once, the answers still owed unawaited; SIGINT stops it as uvicorn does."""

    def __init__(self, config: uvicorn.Config, on_terminate: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_terminate = on_terminate
        self._terminating = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            if not self._terminating:
                self._terminating = True
                self._on_terminate()
                return
            self.force_exit = True  # the answers still owed are not waited for either
        super().handle_exit(sig, frame)

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
    """Builds the whole server from its settings: the parts every region shares, then each region's own
    (regions.py), one part after another. Nothing starts until `serve()`."""
    served = served_regions(settings)
    common = regions.shared(settings)
    built = [regions.region(settings, name, common) for name in served]
    home = built[0]
    aws = RegionalAws({r.name: r.aws for r in built}, settings.region)
    parts = (*common.parts, *(part for r in built for part in r.parts))
    console = wiring.console(
        settings,
        home.aws,
        common.store.db,
        common.identity.keys,
        home.core.pools,
        common.images.service.catalog,
        common.authorization.authorizer,
    )
    return Lambkin(
        settings=settings,
        db=common.store.db,
        cluster=common.cluster.cluster,
        images=common.images.service,
        sandboxes=common.sandboxes.backend,
        control_plane=home.plane,
        execution=home.core,
        queues=home.queues,
        aws=aws,
        mounts=(*_mounts(common, built), console, Mount("aws", always, aws)),
        background=tuple(task for part in parts for task in part.background),
        closers=tuple(closer for part in parts for closer in part.closers),
        drain=Drain(
            common.cluster.cluster.membership,
            common.cluster.cluster.leases,
            lambda: sum(r.core.pools.in_use() for r in built),
            drain_settings(settings),
        ),
        invoke_relay=home.relay,
        metrics=home.recorder,
    )


def _mounts(common: regions.Shared, built: Sequence[regions.Region]) -> tuple[Mount, ...]:
    """Every part's HTTP mounts, in order; with several regions, function URLs and HTTP APIs reach the region
    their URL names (api/http_regions.py), and the other mounts (/metrics, packages) are the home region's."""
    home, *others = built
    mounts = [*(m for part in common.parts for m in part.mounts), *(m for p in home.parts for m in p.mounts)]
    if not others:
        return tuple(mounts)
    by_name = {m.name: m for m in mounts}

    def face(name: str, knows: Callable[[regions.Region], Knows]) -> Mount:
        apps = {r.name: next(m.app for m in r.http.mounts if m.name == name) for r in built}
        faces = {r.name: Face(apps[r.name], knows(r)) for r in built}
        host, prefix = _FACES[name]
        return Mount(name, by_name[name].match, RegionalFace(faces, home.name, host, prefix))

    routed = {
        "function-urls": face("function-urls", lambda r: _has_url(r.http.urls)),
        "http-gateway": face("http-gateway", lambda r: _has_api(r.http.apis)),
    }
    return tuple(routed.get(m.name, m) for m in mounts)


_FACES = {"function-urls": (URL_HOST, URL_PREFIX), "http-gateway": (API_HOST, API_PREFIX)}


def _has_url(urls: UrlService) -> Knows:
    async def knows(url_id: str) -> bool:
        return len(url_id) == 32 and await urls.by_id(url_id) is not None

    return knows


def _has_api(apis: HttpApis) -> Knows:
    async def knows(api_id: str) -> bool:
        return await apis.live(api_id) is not None

    return knows
