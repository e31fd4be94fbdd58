"""The runtimes a server has: which are built, the image in lambkin's catalog each runs on, its environment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lambkin.images.catalog import Catalog
from lambkin.runtimes.recipes import DEPRECATED, RECIPES, deprecated_message

REPOSITORY_PREFIX = "lambkin-runtimes/"  # reserved: a runtime's image lives at lambkin-runtimes/NAME
REGISTRY = "localhost"  # the reference names no registry of the network: the catalog holds it, by digest


class RuntimeNotAvailable(Exception):
    """A runtime identifier this server cannot run: unknown, deprecated, or not built here.

    `.message` is the InvalidParameterValueException text for the Lambda API.
    """

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        if name in DEPRECATED:
            message = deprecated_message(name)
        else:
            message = (
                f"Value {name} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(available)}]"
            )
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class BuiltRuntime:
    """A runtime built into this data directory: its image manifest digest and the recipe key it came from."""

    name: str
    digest: str
    key: str

    @property
    def repository(self) -> str:
        return REPOSITORY_PREFIX + self.name


class Runtimes:
    """The managed runtimes of one data directory: records under `data_dir/runtimes/built/`, images in the
    data directory's catalog (written by `lambkin runtimes build`)."""

    def __init__(self, data_dir: Path, catalog: Catalog) -> None:
        self.records = data_dir / "runtimes" / "built"
        self.catalog = catalog

    def names(self) -> list[str]:
        """The runtimes built here and available, in the recipes' order."""
        return [name for name in RECIPES if self.built(name) is not None]

    async def image(self, name: str) -> str:
        """The reference (`localhost/lambkin-runtimes/NAME@sha256:...`) of the image functions on `name` run
        on, pinned to its digest; raises RuntimeNotAvailable unless it is built and in the catalog."""
        built = self.built(name) if not self.deprecated(name) else None
        if built is None or not await self.catalog.has_manifest(built.repository, built.digest):
            raise RuntimeNotAvailable(name, self.names())
        return f"{REGISTRY}/{built.repository}@{built.digest}"

    def environment(self, name: str) -> dict[str, str]:
        """The variables the runtime sets (AWS_EXECUTION_ENV, LAMBDA_TASK_ROOT, PYTHONPATH...), without
        `_HANDLER`, which is the function's; raises RuntimeNotAvailable for an unknown runtime."""
        if name not in RECIPES:
            raise RuntimeNotAvailable(name, self.names())
        return RECIPES[name].environment()

    def deprecated(self, name: str) -> bool:
        """Whether Lambda refuses `name` for creating or updating functions (RuntimeNotAvailable's message
        then is Lambda's deprecation text)."""
        return name in DEPRECATED

    def built(self, name: str) -> BuiltRuntime | None:
        if name not in RECIPES:
            return None
        try:
            record = json.loads((self.records / f"{name}.json").read_text())
            return BuiltRuntime(name, str(record["digest"]), str(record["key"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def record(self, built: BuiltRuntime) -> None:
        """Notes a runtime as built (after its image is in the catalog)."""
        self.records.mkdir(parents=True, exist_ok=True)
        temporary = self.records / f".{built.name}.json.tmp"
        temporary.write_text(json.dumps({"digest": built.digest, "key": built.key}, indent=2) + "\n")
        temporary.replace(self.records / f"{built.name}.json")
