"""Configuration: the server's Settings, its access key pair, and every LAMBKIN_* variable, read here only.

The rest of lambkin reads none of the environment's LAMBKIN_* variables: `settings_from_environment` turns
them into Settings for `lambkin server`, `command_defaults` into the `lambkin` command's option defaults.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from lambkin import loop_cpu
from lambkin.credentials import Credentials
from lambkin.environments.aws_endpoint import MAX_CONNECTIONS
from lambkin.http11.limits import DEFAULT_LIMITS

CREDENTIALS_FILE = "credentials.json"
GIB = 1 << 30
_T = TypeVar("_T")
DRAIN_NOTICE_S = 2.0  # a clustered node's /health says 503 this long before its port closes (see Settings)


class SettingInvalid(ValueError):
    """A LAMBKIN_* setting's value cannot be used; the message names the variable and the value."""


def _cores() -> int:
    return os.cpu_count() or 1


def _host_pids_share() -> int:
    """Half the host's pid space (the lesser of its pid_max and threads-max): the rest stays the host's."""
    limits = []
    for name in ("pid_max", "threads-max"):
        with contextlib.suppress(OSError, ValueError):
            limits.append(int(Path("/proc/sys/kernel", name).read_text()))
    return min(limits, default=32768) // 2


@dataclass(frozen=True)
class Settings:
    """One server's configuration (the LAMBKIN_* variable each field comes from, in its comment)."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 9000
    region: str = "us-east-1"  # LAMBKIN_REGION: the home region
    # Every region served (LAMBKIN_REGIONS, `--regions`; docs/design/regions.md), the home region first; empty:
    # the home region alone. Each is a namespace of its own functions, queues, buses... (see `served`).
    regions: tuple[str, ...] = ()
    account_id: str = "000000000000"  # LAMBKIN_ACCOUNT_ID
    credentials: Credentials = field(default_factory=lambda: Credentials("", ""))
    account_concurrency: int = 1000  # ConcurrentExecutions (LAMBKIN_ACCOUNT_CONCURRENCY), Lambda's default
    # Unreferenced blobs are collected this often (LAMBKIN_IMAGE_GC_INTERVAL).
    image_gc_interval_s: float = 3600.0
    # What one image may unpack to: Lambda's 10 GiB uncompressed image limit (LAMBKIN_IMAGE_MAX_SIZE, bytes),
    # and a million entries (LAMBKIN_IMAGE_MAX_FILES): several times the largest real images (a CUDA and
    # PyTorch image holds a few hundred thousand), yet a bound on inodes and on the minutes an unpack takes.
    image_max_bytes: int = 10 * GIB
    image_max_files: int = 1_000_000
    routes_file: Path | None = None  # the HTTP gateway's routes (LAMBKIN_ROUTES); None: <data>/routes.json
    idle_timeout_s: float = 300.0  # an idle environment is reaped after this (LAMBKIN_IDLE_TIMEOUT)
    freeze_after_s: float = 0.5  # an idle environment is frozen after this (LAMBKIN_FREEZE_AFTER)
    # Cold starts initializing at once on this host, every function's (LAMBKIN_MAX_PARALLEL_STARTS): one a
    # core, as an init is mostly CPU-bound; the others wait for a slot (their init limit not yet running), or
    # their callers take an environment that finishes its event first.
    max_parallel_starts: int = field(default_factory=_cores)
    busy_poll_us: float = 1000.0  # polling for invocations quicker than this (LAMBKIN_BUSY_POLL_US; 0: off)
    # The event loop thread's own CPU (LAMBKIN_LOOP_CPU: auto, off or a CPU number; loop_cpu.py).
    loop_cpu: str | int = "auto"
    # The CPUs functions' sandboxes run on (LAMBKIN_SANDBOX_CPUS: auto, all or a list; loop_cpu.py).
    sandbox_cpus: str | frozenset[int] = "auto"
    log_retention_days: float = 7.0  # LAMBKIN_LOG_RETENTION_DAYS
    metrics_retention_days: float = 15.0  # CloudWatch's one-minute data kept (LAMBKIN_METRICS_RETENTION_DAYS)
    async_retry_scale: float = (
        1.0  # every async back-off and maximum age times this (LAMBKIN_ASYNC_RETRY_SCALE)
    )
    # Async invokes in flight per function at most (LAMBKIN_ASYNC_CONCURRENCY; 0 holds every event back).
    async_concurrency: int = 16
    # AssumeRole's sessions last their DurationSeconds times this (LAMBKIN_SESSION_DURATION_SCALE; a test
    # setting: 0 issues sessions that are already over).
    session_duration_scale: float = 1.0
    # The sandboxes' PID 1 (LAMBKIN_SANDBOX_INIT): None looks for the host's static tini, "" runs without one.
    sandbox_init: str | None = None
    # A request's head: each line at most this many bytes (LAMBKIN_HEADER_LINE_LIMIT), the whole head at
    # most (LAMBKIN_HEAD_LIMIT) — ALB's 16 KiB and 64 KiB — and its last byte at most this long after its
    # first (LAMBKIN_HEAD_DEADLINE). Past them: 431, or 408 for a slow sender. Defaults: http11/limits.py.
    header_line_limit: int = DEFAULT_LIMITS.line_bytes
    head_limit: int = DEFAULT_LIMITS.head_bytes
    head_deadline_s: float = DEFAULT_LIMITS.deadline_s
    # Pulls connect only to public addresses (every redirect too), except to the registries listed here:
    # LAMBKIN_PRIVATE_REGISTRIES may be at private addresses, LAMBKIN_INSECURE_REGISTRIES also skip TLS
    # checks (or speak plain http). Each a comma-separated list of host, host:port or address/prefix.
    private_registries: tuple[str, ...] = ()
    insecure_registries: tuple[str, ...] = ()
    # The sandboxes' network (docs/design/networking.md): "internet" or "none" (LAMBKIN_NETWORK); the range
    # their addresses come from ("" is 100.127.0.0/16; LAMBKIN_NETWORK_RANGE); ranges they may not reach,
    # comma-separated (LAMBKIN_NETWORK_DENY); the resolvers their DNS queries go to, comma-separated ("" is
    # the host's /etc/resolv.conf; LAMBKIN_NETWORK_DNS).
    network: str = "internet"
    network_range: str = ""
    network_deny: str = ""
    network_dns: str = ""
    # Where the host has IPv6, the unique local range the sandboxes' IPv6 addresses come from, a /64 per link
    # ("" is fd6c:616d:626b::/48; "off" keeps them IPv4-only; LAMBKIN_NETWORK_RANGE6).
    network_range6: str = ""
    # The operator's VPCs for functions' VpcConfig (docs/design/networking.md): a JSON or TOML file of
    # subnets and security groups with egress rules ("": none defined; LAMBKIN_VPC_CONFIG).
    vpc_config: str = ""
    # What sandboxes may take of the server: connections one sandbox holds open at once to its in-sandbox AWS
    # endpoint (LAMBKIN_SANDBOX_ENDPOINT_CONNECTIONS; past them a new one is closed), and processes of all
    # sandboxes together (LAMBKIN_SANDBOX_PIDS_MAX; by default half the host's pid space).
    sandbox_endpoint_connections: int = MAX_CONNECTIONS
    sandbox_pids_max: int = field(default_factory=_host_pids_share)
    # Where the durable state lives (LAMBKIN_DATABASE_URL, or `lambkin server --database`): None keeps it in
    # SQLite files in the data directory; a postgresql://user:password@host:port/dbname URL (or libpq's
    # key=value form) keeps it all in that PostgreSQL database. Blobs and unpacked layers stay in data_dir.
    database_url: str | None = None
    # The PostgreSQL schema a region's own tables live in (set by regions.py for a region that is not the
    # home region: never from the environment); None: the database's default (public).
    database_schema: str | None = None
    # Scale-out (docs/design/cluster.md): a node name (`--node-name`, LAMBKIN_NODE_NAME) makes this server one
    # node of a cluster sharing the PostgreSQL database; `advertise` is the URL its peers reach it at
    # (`--advertise`, LAMBKIN_ADVERTISE; default the server's own endpoint). A node that has not heartbeaten
    # for `node_gone_after_s` is gone and its leases may be taken (LAMBKIN_NODE_GONE_AFTER_S); nodes beat
    # every `heartbeat_s` (LAMBKIN_HEARTBEAT_S).
    node_name: str | None = None
    advertise: str | None = None
    node_gone_after_s: float = 10.0
    heartbeat_s: float = 1.0
    # Other names clients give lambkin's own registry in image URIs, host:port, comma-separated
    # (LAMBKIN_REGISTRY_NAMES): a load balancer in front of the nodes, say. An image URI naming one of them,
    # or any live node's advertised address, is read from the shared catalog, never pulled.
    registry_names: tuple[str, ...] = ()
    # A node's drain on SIGTERM (cluster/drain.py): invocations under way here get at most this long to finish
    # (LAMBKIN_DRAIN_TIMEOUT, seconds); /health answers 503 at least this long before the port closes, so a
    # load balancer's health checks take the node out first (LAMBKIN_DRAIN_NOTICE; None: DRAIN_NOTICE_S in a
    # cluster, 0 for a single node).
    drain_timeout_s: float = 30.0
    drain_notice_s: float | None = None
    # The URLs lambkin hands out (HTTP APIs' ApiEndpoint, FunctionUrl; api/http_urls.py): `public_url` is
    # the base clients reach the server at (LAMBKIN_PUBLIC_URL, e.g. https://lambkin.example.com behind a
    # proxy; None: the server's own endpoint); `host_urls` gives them in the host-name form,
    # <id>.execute-api.<region>.<base host>, for operators with wildcard DNS (LAMBKIN_HOST_URLS=1), instead of
    # the path form every client resolves (<base>/execute-api/<id>, <base>/lambda-url/<id>/).
    public_url: str | None = None
    host_urls: bool = False
    # Metrics (metrics/, api/metrics_api.py): `metrics_token` is the bearer token a Prometheus scrape of
    # /metrics must present (LAMBKIN_METRICS_TOKEN; None: /metrics refuses every scrape); `metrics` counts
    # invocations, cold starts and requests at all (LAMBKIN_METRICS=off turns the counting off).
    metrics_token: str | None = None
    metrics: bool = True

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def served(self) -> tuple[str, ...]:
        """The regions this server serves, the home region (`region`) first."""
        return (self.region, *(r for r in self.regions if r != self.region))

    @property
    def clustered(self) -> bool:
        """One node of several on a shared PostgreSQL (else a cluster of one)."""
        return self.node_name is not None

    @property
    def advertised(self) -> str:
        """The URL this node's peers reach it at."""
        return (self.advertise or self.endpoint).rstrip("/")

    @property
    def routes_path(self) -> Path:
        return self.routes_file or self.data_dir / "routes.json"


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def access_key_from_environment(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """LAMBKIN_ACCESS_KEY_ID and LAMBKIN_SECRET_ACCESS_KEY, when both are set."""
    env = os.environ if environ is None else environ
    key_id = env.get("LAMBKIN_ACCESS_KEY_ID")
    secret = env.get("LAMBKIN_SECRET_ACCESS_KEY")
    return Credentials(key_id, secret) if key_id and secret else None


def load_credentials(data_dir: Path, environ: Mapping[str, str] | None = None) -> tuple[Credentials, bool]:
    """The key pair from the environment, else the data directory, else a new one saved there.

    Returns the pair and whether it was generated just now (so the caller can print it once).
    """
    given = access_key_from_environment(environ)
    if given is not None:
        return given, False
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        return Credentials(saved["access_key_id"], saved["secret_access_key"]), False
    creds = Credentials(
        access_key_id="LKIA" + _random_key(16, string.ascii_uppercase + string.digits),
        secret_access_key=_random_key(40, string.ascii_letters + string.digits),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"access_key_id": creds.access_key_id, "secret_access_key": creds.secret_access_key}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return creds, True


def routes_file(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The HTTP gateway's routes file: $LAMBKIN_ROUTES, else `<data>/routes.json`."""
    env = os.environ if environ is None else environ
    return Path(env["LAMBKIN_ROUTES"]) if env.get("LAMBKIN_ROUTES") else data_dir / "routes.json"


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")


def served_regions(settings: Settings) -> tuple[str, ...]:
    """The regions `settings` serves, each checked to look like an AWS region (else SettingInvalid). Several
    regions are one server's: not yet a cluster's (their leases and news would share names)."""
    for name in settings.served:
        if _REGION.fullmatch(name) is None:
            setting = "LAMBKIN_REGION" if name == settings.region else "LAMBKIN_REGIONS"
            raise SettingInvalid(f"{setting}: {name!r} is not an AWS region name (like us-east-1)")
    if len(settings.served) > 1 and settings.clustered:
        raise SettingInvalid(
            "LAMBKIN_REGIONS: a cluster (LAMBKIN_NODE_NAME) serves one region; serve several on a single node"
        )
    return settings.served


def _regions(env: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """The home region (LAMBKIN_REGION, else the first of LAMBKIN_REGIONS, else us-east-1) and every region
    served, the home region first."""
    listed = _entries(env, "LAMBKIN_REGIONS")
    home = env.get("LAMBKIN_REGION") or (listed[0] if listed else "us-east-1")
    return home, tuple(dict.fromkeys((home, *listed)))


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw else default


def _cpu_setting(parse: Callable[[str], _T], env: Mapping[str, str], name: str) -> _T:
    """A CPU setting (LAMBKIN_LOOP_CPU, LAMBKIN_SANDBOX_CPUS) parsed by loop_cpu, its error a SettingInvalid."""
    try:
        return parse(env.get(name, ""))
    except loop_cpu.LoopCpuInvalid as exc:
        raise SettingInvalid(str(exc)) from exc


def _entries(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(entry for entry in env.get(name, "").replace(",", " ").split() if entry)


def settings_from_environment(
    data_dir: Path, host: str, port: int, environ: Mapping[str, str] | None = None
) -> tuple[Settings, bool]:
    """Settings for `lambkin server`: arguments plus LAMBKIN_* variables."""
    env = os.environ if environ is None else environ
    creds, generated = load_credentials(data_dir, env)
    home, regions = _regions(env)
    return (
        Settings(
            data_dir=data_dir,
            host=host,
            port=port,
            region=home,
            regions=regions,
            account_id=env.get("LAMBKIN_ACCOUNT_ID", "000000000000"),
            credentials=creds,
            image_gc_interval_s=float(env.get("LAMBKIN_IMAGE_GC_INTERVAL") or 3600),
            image_max_bytes=int(env.get("LAMBKIN_IMAGE_MAX_SIZE") or 10 * GIB),
            image_max_files=int(env.get("LAMBKIN_IMAGE_MAX_FILES") or 1_000_000),
            account_concurrency=int(
                env.get("LAMBKIN_ACCOUNT_CONCURRENCY") or env.get("LAMBKIN_CONCURRENCY_LIMIT") or 1000
            ),
            routes_file=routes_file(data_dir, env),
            idle_timeout_s=_number(env, "LAMBKIN_IDLE_TIMEOUT", 300),
            freeze_after_s=_number(env, "LAMBKIN_FREEZE_AFTER", 0.5),
            max_parallel_starts=int(_number(env, "LAMBKIN_MAX_PARALLEL_STARTS", _cores())),
            busy_poll_us=_number(env, "LAMBKIN_BUSY_POLL_US", 1000),
            loop_cpu=_cpu_setting(loop_cpu.parse, env, "LAMBKIN_LOOP_CPU"),
            sandbox_cpus=_cpu_setting(loop_cpu.parse_sandbox_cpus, env, "LAMBKIN_SANDBOX_CPUS"),
            log_retention_days=_number(env, "LAMBKIN_LOG_RETENTION_DAYS", 7),
            metrics_retention_days=_number(env, "LAMBKIN_METRICS_RETENTION_DAYS", 15),
            async_retry_scale=float(env.get("LAMBKIN_ASYNC_RETRY_SCALE") or 1.0),
            async_concurrency=int(env.get("LAMBKIN_ASYNC_CONCURRENCY") or 16),
            session_duration_scale=_number(env, "LAMBKIN_SESSION_DURATION_SCALE", 1.0),
            sandbox_init=env.get("LAMBKIN_SANDBOX_INIT"),
            header_line_limit=int(_number(env, "LAMBKIN_HEADER_LINE_LIMIT", DEFAULT_LIMITS.line_bytes)),
            head_limit=int(_number(env, "LAMBKIN_HEAD_LIMIT", DEFAULT_LIMITS.head_bytes)),
            head_deadline_s=_number(env, "LAMBKIN_HEAD_DEADLINE", DEFAULT_LIMITS.deadline_s),
            private_registries=_entries(env, "LAMBKIN_PRIVATE_REGISTRIES"),
            insecure_registries=_entries(env, "LAMBKIN_INSECURE_REGISTRIES"),
            network=env.get("LAMBKIN_NETWORK") or "internet",
            network_range=env.get("LAMBKIN_NETWORK_RANGE", ""),
            network_deny=env.get("LAMBKIN_NETWORK_DENY", ""),
            network_dns=env.get("LAMBKIN_NETWORK_DNS", ""),
            network_range6=env.get("LAMBKIN_NETWORK_RANGE6", ""),
            vpc_config=env.get("LAMBKIN_VPC_CONFIG", ""),
            sandbox_endpoint_connections=int(
                _number(env, "LAMBKIN_SANDBOX_ENDPOINT_CONNECTIONS", MAX_CONNECTIONS)
            ),
            sandbox_pids_max=int(_number(env, "LAMBKIN_SANDBOX_PIDS_MAX", _host_pids_share())),
            database_url=env.get("LAMBKIN_DATABASE_URL") or None,
            node_name=env.get("LAMBKIN_NODE_NAME") or None,
            advertise=env.get("LAMBKIN_ADVERTISE") or None,
            node_gone_after_s=_number(env, "LAMBKIN_NODE_GONE_AFTER_S", 10.0),
            heartbeat_s=_number(env, "LAMBKIN_HEARTBEAT_S", 1.0),
            registry_names=_entries(env, "LAMBKIN_REGISTRY_NAMES"),
            drain_timeout_s=_number(env, "LAMBKIN_DRAIN_TIMEOUT", 30),
            drain_notice_s=float(env["LAMBKIN_DRAIN_NOTICE"]) if env.get("LAMBKIN_DRAIN_NOTICE") else None,
            public_url=env.get("LAMBKIN_PUBLIC_URL") or None,
            host_urls=env.get("LAMBKIN_HOST_URLS", "") in ("1", "true", "yes"),
            metrics_token=env.get("LAMBKIN_METRICS_TOKEN") or None,
            metrics=env.get("LAMBKIN_METRICS", "on").lower() not in ("off", "0", "false", "no"),
        ),
        generated,
    )


@dataclass(frozen=True)
class CommandDefaults:
    """What the `lambkin` command's options default to, from LAMBKIN_* variables (None: the variable is unset)."""

    data_dir: Path  # LAMBKIN_DATA_DIR, else ./lambkin-data
    host: str  # LAMBKIN_HOST
    port: str  # LAMBKIN_PORT, as given
    endpoint: str | None  # LAMBKIN_ENDPOINT
    region: str  # LAMBKIN_REGION
    log_level: str | None  # LAMBKIN_LOG_LEVEL
    demo_image: str | None  # LAMBKIN_DEMO_IMAGE
    access_key: Credentials | None  # LAMBKIN_ACCESS_KEY_ID and LAMBKIN_SECRET_ACCESS_KEY


def command_defaults(environ: Mapping[str, str] | None = None) -> CommandDefaults:
    """The `lambkin` command's defaults from the environment (read when its parser is built)."""
    env = os.environ if environ is None else environ
    return CommandDefaults(
        data_dir=Path(env.get("LAMBKIN_DATA_DIR", "lambkin-data")),
        host=env.get("LAMBKIN_HOST", "127.0.0.1"),
        port=env.get("LAMBKIN_PORT", "9000"),
        endpoint=env.get("LAMBKIN_ENDPOINT"),
        region=env.get("LAMBKIN_REGION", "us-east-1"),
        log_level=env.get("LAMBKIN_LOG_LEVEL"),
        demo_image=env.get("LAMBKIN_DEMO_IMAGE"),
        access_key=access_key_from_environment(env),
    )
