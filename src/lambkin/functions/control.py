"""ControlPlane: the functions part's services wired together, built once by the composition root."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from lambkin.cluster.bus import Bus, SoloBus
from lambkin.functions.account import AccountService
from lambkin.functions.aliases import AliasService
from lambkin.functions.cache import ReadCache
from lambkin.functions.delivery import Delivery, QueuePolicy, RoleMay
from lambkin.functions.layers import LayerService
from lambkin.functions.names import Arns
from lambkin.functions.policies import FunctionPolicies
from lambkin.functions.provisioned import ProvisionedConcurrency
from lambkin.functions.service import FunctionService, RoleCheck
from lambkin.functions.validation import host_architecture
from lambkin.functions.worker import ImageResolver, ImageWorker
from lambkin.functions.zip_code import ZipFunctions
from lambkin.network.vpc import EMPTY, Catalog
from lambkin.store import Store


@dataclass(frozen=True)
class ControlPlane:
    """Functions, aliases, account settings, function policies, and the background worker that settles image resolution."""

    arns: Arns
    functions: FunctionService
    aliases: AliasService
    account: AccountService
    provisioned: ProvisionedConcurrency
    policies: FunctionPolicies
    worker: ImageWorker
    bus: Bus  # what the parts beside it (URLs, mappings, the keeper) announce and hear news on
    delivery: Delivery | None = (
        None  # whether a function's role may deliver its async results (None: unchecked)
    )
    # Zip functions (issue 18): their packages and images (None: PackageType Zip is refused), and the
    # download URL of a stored package by its blob digest (GetFunction's Code.Location).
    zip_functions: ZipFunctions | None = None
    package_url: Callable[[str], str] | None = None
    layers: LayerService | None = None

    async def run(self) -> None:
        """The part's background loops (for `Lambkin.background`): the image worker, and the function
        policies' reloads of what other nodes changed."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.worker.run())
            group.create_task(self.policies.refresh.run())


def build_control_plane(
    db: Store,
    region: str,
    account_id: str,
    resolver: ImageResolver,
    *,
    role_check: RoleCheck,
    concurrency_limit: int = 1000,
    architecture: str | None = None,
    role_may: RoleMay | None = None,
    queue_policy: QueuePolicy = lambda arn: None,
    vpcs: Catalog = EMPTY,
    bus: Bus | None = None,
) -> ControlPlane:
    """With `role_may` (identity's), a function's role must be allowed to send to its dead-letter queue and
    to reach its destinations (`queue_policy`: a queue's own policy by ARN); without it, roles are not asked.
    Every write is announced on `bus`, and what other nodes announce drops or reloads what is held here."""
    arns = Arns(region, account_id)
    bus = bus or SoloBus()
    cache = ReadCache(bus)
    worker = ImageWorker(db, resolver, cache)
    policies = FunctionPolicies(db, arns, bus)
    delivery = None if role_may is None else Delivery(role_may, queue_policy, policies, arns)
    functions = FunctionService(
        db,
        arns,
        worker.submit,
        role_check=role_check,
        host_architecture=architecture or host_architecture(),
        cache=cache,
        delivery=delivery,
        vpcs=vpcs,
    )
    worker.publish = functions.publish_in
    return ControlPlane(
        arns=arns,
        functions=functions,
        aliases=AliasService(db, arns, cache),
        account=AccountService(db, arns, concurrency_limit, cache),
        provisioned=ProvisionedConcurrency(db, arns, concurrency_limit, bus),
        policies=policies,
        worker=worker,
        bus=bus,
        delivery=delivery,
    )
