"""MappingService: Create, Get, Update, Delete and List of SQS event source mappings, and their state steps."""

from __future__ import annotations

import asyncio
import uuid as uuids
from dataclasses import dataclass, replace
from typing import Any, Protocol

from lambkin.clock import SYSTEM_CLOCK, Clock
from lambkin.cluster.refresh import Refresh
from lambkin.events.errors import InvalidParameterValue, MappingConflict, MappingInUse, MappingNotFound
from lambkin.events.mapping_store import TOPIC, MappingStore
from lambkin.events.mappings import (
    DEFAULT_BATCH_SIZE,
    REPORT_BATCH_ITEM_FAILURES,
    TRANSIENT,
    USER_INITIATED,
    Mapping,
    MappingState,
    check_settings,
    check_unsupported,
    check_visibility,
    settled,
    transition,
)
from lambkin.queues.service import QueueService

DEFAULT_PAGE = 100


@dataclass(frozen=True)
class FunctionInfo:
    """What a FunctionName member named: the function, its qualifier if any, the ARN to show, its timeout."""

    name: str
    qualifier: str | None
    arn: str
    timeout: int
    role: str = ""  # the execution role the function's pollers act with


@dataclass(frozen=True)
class QueueInfo:
    name: str
    fifo: bool
    visibility_timeout: int
    policy: str | None = None  # the queue's own policy (its Policy attribute)


class FunctionLookup(Protocol):
    async def __call__(self, raw_name: str) -> FunctionInfo:
        """The function, or the control plane's own error (not found, invalid name)."""
        ...


class QueueLookup(Protocol):
    async def __call__(self, arn: str) -> QueueInfo | None: ...


class RoleMay(Protocol):
    def __call__(
        self, role_arn: str, session_name: str, action: str, resource: str, policy: str | None
    ) -> bool:
        """Whether a session of the role may do the action on the resource (whose own policy is given)."""
        ...


# What a queue's poller does with the function's role, in the order Lambda checks them.
POLLER_ACTIONS = ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")


def queue_info(queues: QueueService, arn: str) -> QueueInfo | None:
    """A lambkin queue by ARN as this node knows it, or None."""
    name = queues.registry.name_of_arn(arn)
    queue = queues.registry.queues.get(name) if name else None
    if queue is None or queue.deleted:
        return None
    return QueueInfo(queue.name, queue.fifo, queue.config.visibility_timeout, queue.config.policy)


def queue_lookup(queues: QueueService) -> QueueLookup:
    """The queue engine's view for mappings: a lambkin queue by ARN, or None; one this node does not know
    is read from the database first (another node may have made it a moment ago)."""

    async def find(arn: str) -> QueueInfo | None:
        name = queues.registry.name_of_arn(arn)
        if name and name not in queues.registry.queues:
            await queues.reload(frozenset({name}))
        return queue_info(queues, arn)

    return find


class MappingService:
    """Keeps every mapping in memory, each change committed first; `changed` wakes the pollers' supervisor.
    A change made on another node (the bus's news) is read back by `refresh` and wakes it too. With
    `role_may`, a function's execution role must be allowed what its queue's poller does (as Lambda checks
    at CreateEventSourceMapping); without it (a server without IAM), roles are not checked."""

    def __init__(
        self,
        store: MappingStore,
        functions: FunctionLookup,
        queues: QueueLookup,
        arn_prefix: str,
        clock: Clock = SYSTEM_CLOCK,
        role_may: RoleMay | None = None,
    ) -> None:
        self.store = store
        self.functions = functions
        self.queues = queues
        self.role_may = role_may
        self.arn_prefix = arn_prefix  # arn:aws:lambda:<region>:<account>:event-source-mapping:
        self.clock = clock
        self.mappings: dict[str, Mapping] = {}
        self.changed = asyncio.Event()
        self.refresh = Refresh(store.bus, TOPIC, self.reload)

    def load(self) -> None:
        self.mappings = {m.uuid: m for m in self.store.load()}

    async def reload(self, uuids: frozenset[str] | None) -> None:
        """Reads the mappings `uuids` (None: every one) again, and wakes the supervisor."""
        found = {m.uuid: m for m in await self.store.read(uuids)}
        if uuids is None:
            self.mappings = found
        else:
            for uuid in uuids:
                if uuid in found:
                    self.mappings[uuid] = found[uuid]
                else:
                    self.mappings.pop(uuid, None)
        self.changed.set()

    def arn(self, mapping: Mapping) -> str:
        return self.arn_prefix + mapping.uuid

    async def create(self, params: dict[str, Any]) -> Mapping:
        check_unsupported(params)
        source = params.get("EventSourceArn")
        if not source:
            raise InvalidParameterValue("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
        queue = await self._queue(source)
        function = await self.functions(params["FunctionName"])
        batch = params.get("BatchSize", DEFAULT_BATCH_SIZE)
        window = params.get("MaximumBatchingWindowInSeconds", 0)
        types = params.get("FunctionResponseTypes") or []
        check_settings(batch, window, queue.fifo, types)
        check_visibility(queue.visibility_timeout, function.timeout)
        self._check_unique(source, function)
        self._check_role(function, source, queue)
        mapping = Mapping(
            uuid=str(uuids.uuid4()),
            event_source_arn=source,
            queue=queue.name,
            function=function.name,
            qualifier=function.qualifier,
            function_arn=function.arn,
            batch_size=batch,
            window_s=window,
            report_failures=REPORT_BATCH_ITEM_FAILURES in types,
            max_concurrency=(params.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            enabled=params.get("Enabled", True),
            state=MappingState.CREATING,
            last_modified=self.clock.now(),
            fifo=queue.fifo,
        )
        await self._save(mapping)
        return mapping

    def _check_role(self, function: FunctionInfo, source: str, queue: QueueInfo) -> None:
        if self.role_may is None:
            return
        for action in POLLER_ACTIONS:
            if not self.role_may(function.role, function.name, f"sqs:{action}", source, queue.policy):
                raise InvalidParameterValue(
                    f"The provided execution role does not have permissions to call {action} on SQS"
                )

    def get(self, uuid: str) -> Mapping:
        mapping = self.mappings.get(uuid)
        if mapping is None:
            raise MappingNotFound(
                f"The resource you requested does not exist. (Service: Lambda, UUID: {uuid})"
            )
        return mapping

    async def find(self, uuid: str) -> Mapping:
        """`get`, reading the store first when the mapping is not in memory: one made on another node a
        moment ago is found before that node's news arrives."""
        if uuid not in self.mappings:
            for mapping in await self.store.read(frozenset({uuid})):  # an unknown UUID wakes nobody
                self.mappings[uuid] = mapping
                self.changed.set()
        return self.get(uuid)

    async def update(self, uuid: str, params: dict[str, Any]) -> Mapping:
        check_unsupported(params)
        current = await self._changeable(uuid)
        function = None
        if params.get("FunctionName"):
            function = await self.functions(params["FunctionName"])
        batch = params.get("BatchSize", current.batch_size)
        window = params.get("MaximumBatchingWindowInSeconds", current.window_s)
        types = params.get("FunctionResponseTypes")
        check_settings(batch, window, current.fifo, types or [])
        queue = await self._queue(current.event_source_arn)
        if function is not None:
            check_visibility(queue.visibility_timeout, function.timeout)
            if function.arn != current.function_arn:
                self._check_unique(current.event_source_arn, function)
            self._check_role(function, current.event_source_arn, queue)
        enabled = params.get("Enabled", current.enabled)
        scaling = params.get("ScalingConfig")
        changed = replace(
            current,
            batch_size=batch,
            window_s=window,
            report_failures=current.report_failures if types is None else REPORT_BATCH_ITEM_FAILURES in types,
            max_concurrency=current.max_concurrency if scaling is None else scaling.get("MaximumConcurrency"),
            enabled=enabled,
            reason=USER_INITIATED,
            last_modified=self.clock.now(),
        )
        if function is not None:
            changed = replace(
                changed, function=function.name, qualifier=function.qualifier, function_arn=function.arn
            )
        if enabled and not current.enabled:
            target = MappingState.ENABLING
        elif current.enabled and not enabled:
            target = MappingState.DISABLING
        else:
            target = MappingState.UPDATING
        changed = replace(changed, state=transition(current.state, target))
        await self._save(changed)
        return changed

    async def delete(self, uuid: str) -> Mapping:
        current = await self.find(uuid)
        if current.state is MappingState.DELETING:
            return current
        if current.state in TRANSIENT and current.state is not MappingState.CREATING:
            raise _busy(current)
        deleting = replace(current, state=transition(current.state, MappingState.DELETING))
        await self._save(deleting)
        return deleting

    def list(
        self, function: FunctionInfo | None, source: str | None, marker: str | None, max_items: int | None
    ) -> tuple[list[Mapping], str | None]:
        chosen = [
            m
            for _, m in sorted(self.mappings.items())
            if (source is None or m.event_source_arn == source)
            and (function is None or _names(m, function))
            and (marker is None or m.uuid > marker)
        ]
        limit = max_items or DEFAULT_PAGE
        if len(chosen) <= limit:
            return chosen, None
        return chosen[:limit], chosen[limit - 1].uuid

    async def settle(self, uuid: str) -> Mapping | None:
        """Ends a transient state (the supervisor calls this once pollers started or stopped)."""
        current = self.mappings.get(uuid)
        if current is None:
            return None
        if current.state is MappingState.DELETING:
            await self.store.remove(uuid)
            self.mappings.pop(uuid, None)
            return None
        if current.state not in TRANSIENT:
            return current
        steady = replace(current, state=transition(current.state, settled(current.enabled)))
        await self._save(steady, wake=False)
        return steady

    async def disable(self, uuid: str, reason: str) -> None:
        """A problem (function or queue gone) stops the mapping until the user enables it again."""
        current = self.mappings.get(uuid)
        if current is None or current.state is not MappingState.ENABLED:
            return
        disabled = replace(
            current,
            enabled=False,
            state=transition(current.state, MappingState.DISABLED),
            reason=reason,
            last_modified=self.clock.now(),
        )
        await self._save(disabled)

    async def _save(self, mapping: Mapping, wake: bool = True) -> None:
        await self.store.put(mapping)
        self.mappings[mapping.uuid] = mapping
        if wake:
            self.changed.set()

    async def _changeable(self, uuid: str) -> Mapping:
        current = await self.find(uuid)
        if current.state in TRANSIENT or current.state is MappingState.DELETING:
            raise _busy(current)
        return current

    def _check_unique(self, source: str, function: FunctionInfo) -> None:
        for other in self.mappings.values():
            if other.event_source_arn == source and other.function_arn == function.arn:
                raise MappingConflict(
                    f'An event source mapping with SQS arn (" {source} ") and function (" {function.name} ") '
                    f"already exists. Please update or delete the existing mapping with UUID {other.uuid}"
                )

    async def _queue(self, arn: str) -> QueueInfo:
        parts = arn.split(":")
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
            raise InvalidParameterValue(
                f"Unrecognized event source: {arn}. lambkin maps its own SQS queues only."
            )
        queue = await self.queues(arn)
        if queue is None:
            raise InvalidParameterValue(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
                "SQS Error Message: The specified queue does not exist for this wsdl version."
            )
        return queue


def _names(mapping: Mapping, function: FunctionInfo) -> bool:
    if function.qualifier is None:
        return mapping.function == function.name
    return mapping.function_arn == function.arn


def _busy(mapping: Mapping) -> MappingInUse:
    return MappingInUse(
        "The operation cannot be performed at this time. "
        f"The event source mapping is currently in a {mapping.state} state. Please try again later."
    )
