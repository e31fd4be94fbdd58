"""ControlPlane: the functions part's services wired together, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from lambkin.functions.account import AccountService
from lambkin.functions.aliases import AliasService
from lambkin.functions.cache import ReadCache
from lambkin.functions.names import Arns
from lambkin.functions.provisioned import ProvisionedConcurrency
from lambkin.functions.service import FunctionService, RoleCheck
from lambkin.functions.validation import host_architecture
from lambkin.functions.worker import ImageResolver, ImageWorker
from lambkin.store.db import Database


@dataclass(frozen=True)
class ControlPlane:
    """Functions, aliases, account settings, and the background worker that settles image resolution."""

    arns: Arns
    functions: FunctionService
    aliases: AliasService
    account: AccountService
    provisioned: ProvisionedConcurrency
    worker: ImageWorker

    async def run(self) -> None:
        """The part's one background loop (for `Lambkin.background`)."""
        await self.worker.run()


def build_control_plane(
    db: Database,
    region: str,
    account_id: str,
    resolver: ImageResolver,
    *,
    role_check: RoleCheck,
    concurrency_limit: int = 1000,
    architecture: str | None = None,
) -> ControlPlane:
    arns = Arns(region, account_id)
    cache = ReadCache()
    worker = ImageWorker(db, resolver, cache)
    functions = FunctionService(
        db,
        arns,
        worker.submit,
        role_check=role_check,
        host_architecture=architecture or host_architecture(),
        cache=cache,
    )
    worker.publish = functions.publish_in
    return ControlPlane(
        arns=arns,
        functions=functions,
        aliases=AliasService(db, arns, cache),
        account=AccountService(db, arns, concurrency_limit, cache),
        provisioned=ProvisionedConcurrency(db, arns, concurrency_limit),
        worker=worker,
    )
