"""The modules of the hot paths that run compiled, and the rule that keeps a stale build from running.

`make native` (scripts/build_native.py) compiles the modules named in `COMPILED` with mypyc, botocore's
neighbour in the field (mypy, black): the same typed Python, turned into a C extension beside each source
file. A warm invoke costs the server's loop a fifth less CPU so (docs/design/warm-invoke.md).
The sources stay the truth: the build writes `STAMP` when it ends, and if any module of the package is
newer than it (an edit, a checkout), every compiled module is imported from its source instead, all or
none (a compiled class cannot inherit from an interpreted one), with one warning; `make` builds again.

Not every module can be compiled. mypyc compiles no async generator and extends no class it does not
compile (botocore's signer), and a compiled coroutine must not suspend while it handles an exception (an
await in an except or finally block, an `async with` whose exit awaits): mypyc 2.4 then leaves that
exception in the thread's state, the __context__ of every exception raised after it. So the pool's
lifecycle, which awaits its teardown as it unwinds, stays interpreted, and so does every async generator
(the environment's sandbox is opened and closed by two plain methods, `pool.running` holds them together;
a reply's event stream is guarded in `protocol/eventstream.py`, not in the gateway); a name bound by two
`except ... as` clauses of one function has the first one's type in compiled code, so each has its own
(tests/unit/test_compiled.py holds the first rule).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
STAMP = PACKAGE / "compiled.stamp"

COMPILED = (
    "lambkin.http11.busy_poll",
    "lambkin.http11.connection",
    "lambkin.http11.exchange",
    "lambkin.http11.handler",
    "lambkin.http11.head_guard",
    "lambkin.http11.limits",
    "lambkin.http11.phases",
    "lambkin.http11.wire",
    "lambkin.api.authorize",
    "lambkin.api.aws_regions",
    "lambkin.api.front_door",
    "lambkin.api.invoke_plan",
    "lambkin.api.invoke_relay",
    "lambkin.api.lambda_invoke",
    "lambkin.api.lambda_payloads",
    "lambkin.cluster.splice",
    "lambkin.environments.environment",
    "lambkin.environments.lifecycle",
    "lambkin.environments.results",
    "lambkin.environments.runtime_api",
    "lambkin.environments.scaling",
    "lambkin.functions.cache",
    "lambkin.functions.names",
    "lambkin.identity.authorizer",
    "lambkin.identity.keys",
    "lambkin.identity.principals",
    "lambkin.invoke.concurrency",
    "lambkin.invoke.core",
    "lambkin.invoke.invoker",
    "lambkin.invoke.placement",
    "lambkin.invoke.targets",
    "lambkin.logs.lines",
    "lambkin.logs.store",
    "lambkin.logs.stream",
    "lambkin.metrics.recorder",
    "lambkin.metrics.series",
    "lambkin.protocol.dialect",
    "lambkin.protocol.gateway",
    "lambkin.protocol.serialize",
    "lambkin.protocol.service",
    "lambkin.protocol.sigv4",
    "lambkin.protocol.validate",
    "lambkin.ids",
    "lambkin.json_depth",
    "lambkin.watchdog",
)


def source_of(module: str) -> Path:
    """The source file of a module of this package."""
    return PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")


def built() -> bool:
    """Whether compiled modules are here (an extension beside the first module of `COMPILED`)."""
    first = source_of(COMPILED[0])
    return any(first.parent.glob(f"{first.stem}.*.so"))


def stale() -> bool:
    """Whether the build is missing or older than some source of the package."""
    try:
        stamp = STAMP.stat().st_mtime_ns
    except FileNotFoundError:
        return True
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py") and os.stat(os.path.join(folder, name)).st_mtime_ns > stamp:
                return True
    return False


class _FromSource(MetaPathFinder):
    """Imports the modules of `COMPILED` from their sources, ahead of the extensions beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, source_of(fullname))


def use_sources_if_stale() -> None:
    """Called as the package is imported: a stale build is not run."""
    if built() and stale():
        logging.getLogger("lambkin").warning(
            "lambkin: the compiled modules are older than their sources; running from source (make native)"
        )
        sys.meta_path.insert(0, _FromSource())
