"""Invoke targets: a function name and qualifier resolved, once for every path, to the version that runs.

Sync Invoke, async accept and dispatch, the SQS pollers, provisioned concurrency and the HTTP front doors
all ask `Targets.resolve`: the version an alias names (or, by its weights, the other one), which must be
neither Pending nor Failed. Targets are kept in the control plane's read cache (`functions/cache.py`), so a
warm resolve touches no store and makes nothing. Its errors are the control plane's, narrowed to what an
invoke path decides on:

    FunctionsError                      (functions/errors.py; rendered by the gateway as they are)
    ├── FunctionNotFound
    │   └── FunctionGone                the function, version or alias is not there: drop the event,
    │                                   disable the mapping
    ├── ResourceConflict
    │   └── FunctionBusy                Pending or Failed: wait and try again, like a throttle
    └── InvalidParameterValue           the name itself is malformed (raised by `Arns.parse`)
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from lambkin.functions.cache import ReadCache
from lambkin.functions.errors import FunctionNotFound, FunctionsError, ResourceConflict, not_invocable
from lambkin.functions.model import Alias, FunctionRecord, FunctionVersion
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.states import State


class FunctionGone(FunctionNotFound):
    """The function (or its version or alias) no longer exists."""


class FunctionBusy(ResourceConflict):
    """The function cannot run now (Pending, or Failed until an update settles)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What an invoke runs: the version, and the qualifier the caller named (None: the function itself)."""

    version: FunctionVersion
    qualifier: str | None

    @property
    def executed_version(self) -> str:
        """The version that runs ("$LATEST" or a number), whichever alias or weight chose it."""
        return self.version.version

    @property
    def dead_letter_arn(self) -> str | None:
        return self.version.dead_letter_target_arn

    @property
    def invoked_arn(self) -> str:
        """The ARN the caller used, with its version or alias (Lambda-Runtime-Invoked-Function-Arn)."""
        arn = self.version.function_arn
        return arn if self.qualifier is None else f"{arn}:{self.qualifier}"


class Versions(Protocol):
    """What resolving needs of the control plane (`functions.service.FunctionService`)."""

    @property
    def arns(self) -> Arns: ...

    @property
    def cache(self) -> ReadCache: ...

    async def get(self, ref: FunctionRef) -> tuple[FunctionVersion, Alias | None, FunctionRecord]: ...


Resolve = Callable[[str, str | None], Awaitable[Target]]

# A Target's key in the read cache is (_TARGET, qualifier): never one of the control plane's, which are str.
_TARGET = "target"


class Targets:
    """The one resolver: `resolve(name, qualifier)` is a Target, or FunctionGone, FunctionBusy.

    A Target is kept in the control plane's read cache beside the reads it was made of, so it is dropped
    with them by the next write of its function; a warm resolve is one lookup. An alias with weights is
    drawn afresh each time.
    """

    def __init__(self, versions: Versions, draw: Callable[[], float] = random.random) -> None:
        self.versions = versions
        self.arns = versions.arns
        self.cache = versions.cache
        self.draw = draw

    def cached(self, function_name: str, qualifier: str | None) -> Target | None:
        """The Target `resolve` would return from the cache alone, or None (not cached, or not a name)."""
        try:
            ref = self.arns.parse(function_name, qualifier)
        except FunctionsError:
            return None
        cached: Target | None = self.cache.get(ref.name, (_TARGET, ref.qualifier))
        return cached

    async def resolve(self, function_name: str, qualifier: str | None) -> Target:
        ref = self.arns.parse(function_name, qualifier)
        key = (_TARGET, ref.qualifier)
        cached: Target | None = self.cache.get(ref.name, key)
        if cached is not None:
            return cached
        generation = self.cache.generation(ref.name)
        try:
            version, alias, _ = await self.versions.get(ref)
            weights = alias.additional_weights if alias is not None else None
            if weights:
                extra, weight = next(iter(weights.items()))
                if self.draw() < weight:
                    version, _, _ = await self.versions.get(FunctionRef(ref.name, extra))
        except FunctionNotFound as exc:
            raise FunctionGone(exc.message) from exc
        if version.state is State.PENDING or version.state is State.FAILED:
            raise FunctionBusy(not_invocable(version.state.value).message)
        target = Target(version, ref.qualifier)
        if not weights:
            self.cache.put(ref.name, key, target, generation)
        return target
