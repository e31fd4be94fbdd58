"""What runs functions: images and the registry, sandboxes and their networks, functions' control plane, the
execution core and placement over a cluster."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from lambkin import loop_cpu
from lambkin.api.cluster_blobs import ClusterBlobs
from lambkin.api.cluster_invoke import ClusterInvoke
from lambkin.api.cluster_logs import PATH as LOGS_PATH
from lambkin.api.cluster_logs import ClusterLogs, logs_endpoint
from lambkin.api.code_downloads import PREFIX as CODE_PREFIX
from lambkin.api.code_downloads import CodeDownloads, CodeUrls
from lambkin.api.invoke_relay import InvokeRelay
from lambkin.api.lambda_api import handlers as lambda_handlers
from lambkin.api.logs_api import logs_handlers
from lambkin.api.node_only import endpoint, node_only
from lambkin.api.registry import RegistryApp, registry_paths
from lambkin.api.registry_access import RegistryAccess
from lambkin.api.registry_relay import UploadRelay
from lambkin.api.root import Mount, path_prefix
from lambkin.cluster import DRAINING, Bus, Cluster, rendezvous
from lambkin.config import SettingInvalid, Settings
from lambkin.environments.admission import InitGate
from lambkin.environments.aws_endpoint import EndpointBackend, own_endpoint
from lambkin.environments.pool import PoolSettings
from lambkin.events.mapping_service import RoleMay, queue_info
from lambkin.functions.control import ControlPlane, build_control_plane
from lambkin.functions.layers import LayerService
from lambkin.functions.service import RoleCheck
from lambkin.functions.zip_code import ZipFunctions
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.function_credentials import FunctionCredentials
from lambkin.identity.keys import Keyring
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog
from lambkin.images.gc import collect_periodically
from lambkin.images.peer_blobs import PeerBlobs
from lambkin.images.service import ImageService, build_image_service
from lambkin.images.unpack import ImageLimits
from lambkin.images.uploads import Uploads
from lambkin.invoke import forward, quota
from lambkin.invoke.core import ExecutionCore, build_execution
from lambkin.invoke.forward import Forwarder
from lambkin.invoke.provisioning import ClusterSpread, ProvisionedKeeper
from lambkin.invoke.targets import Targets
from lambkin.logs.reader import LocalLogs, LogReader
from lambkin.logs.store import LogStore
from lambkin.metrics.emf import EmbeddedMetrics
from lambkin.metrics.recorder import Recorder
from lambkin.network import policy as network_policy
from lambkin.network import vpc
from lambkin.queues.service import QueueService
from lambkin.runtimes.catalog import Runtimes  # managed runtimes (issue 18)
from lambkin.runtimes.zip_images import PackageImages
from lambkin.sandbox.runc import RuncBackend
from lambkin.sandbox.spec import SandboxBackend
from lambkin.store import Store
from lambkin.wiring.identity import IdentityPart
from lambkin.wiring.parts import CloudWatchPart, Part


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
    gate: InitGate  # the host's init slots, every region's cold starts together


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
    try:
        cpus = loop_cpu.sandbox_cpus(settings.sandbox_cpus)  # off the loop's, once it is pinned
    except loop_cpu.LoopCpuInvalid as exc:
        raise SettingInvalid(str(exc)) from None
    backend = RuncBackend(
        settings.data_dir,
        cpus=cpus,
        init=settings.sandbox_init,
        network=network,
        pids_max=settings.sandbox_pids_max,
        vpcs=vpcs,
    )
    gate = InitGate(settings.max_parallel_starts)
    return SandboxesPart(backend=backend, gate=gate, background=(backend.start,), closers=(backend.close,))


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
    sandboxes: SandboxesPart,
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
        EndpointBackend(sandboxes.backend, endpoint, max_connections=settings.sandbox_endpoint_connections),
        images,
        logs,
        pools,
        settings.account_concurrency,
        credentials,
        metrics,
        sandboxes.gate,
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
