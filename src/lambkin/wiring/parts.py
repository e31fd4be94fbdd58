"""The frame every part's wiring returns (`Part`), the schema steps of the control plane's store, and the
parts every other stands on: the store, this server's place in a cluster, CloudWatch's metric store."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambkin.api import console_sessions
from lambkin.api.cloudwatch_api import cloudwatch_handlers
from lambkin.api.root import Mount
from lambkin.cluster import Cluster, join, node_name, solo
from lambkin.config import Settings
from lambkin.events import mapping_store
from lambkin.events.bridge import retries as bridge_retries
from lambkin.events.bridge import store as bridge_store
from lambkin.events.http import api_store
from lambkin.events.schedules import firings as schedule_firings
from lambkin.events.schedules import scheduler as scheduler_store
from lambkin.functions import event_invoke_config, layer_store, policies
from lambkin.functions import provisioned as provisioned_configs
from lambkin.functions import repository as function_store
from lambkin.functions import urls as function_urls
from lambkin.identity import iam_store
from lambkin.images import catalog as image_catalog
from lambkin.metrics.minutes import MIGRATIONS as METRICS_MIGRATIONS
from lambkin.metrics.minutes import MetricMinutes
from lambkin.protocol.service import Handler
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
