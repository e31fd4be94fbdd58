"""Zip packages kept in the image store, and the image a zip function runs: its runtime's, plus its layers.

A package (function code or a layer version) is stored once by digest: the zip as uploaded (what
`Code.Location` downloads) and the same files as an uncompressed tar layer under `var/task` or `opt`.
An artifact manifest in the catalog references both, so neither is collected. A zip function's image is
the runtime image's layers, then its layers' in order (merged at /opt), then its code, with the runtime's
environment and `_HANDLER`; it is pinned by digest in lambkin's own catalog, so the image machinery
(unpack each layer once, overlay, peers' blobs) runs it as it runs any image.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from lambkin.images.blobs import BlobStore, sha256_digest
from lambkin.images.catalog import Catalog
from lambkin.images.manifests import OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST
from lambkin.images.service import ImageService
from lambkin.runtimes.packages import UNZIPPED_LIMIT, Package, measure, to_layer

PACKAGES = "lambkin-packages"  # artifact manifests keeping each package's zip and layer
FUNCTIONS = "lambkin-zip-functions"  # the images zip functions run
REGISTRY = "localhost"  # as the runtimes' references: the catalog holds the image, by digest
ZIP_MEDIA_TYPE = "application/zip"
PACKAGE_ARTIFACT = "application/vnd.lambkin.package.v1"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
TASK_ROOT = "var/task"
OPT = "opt"


class RuntimeCatalog(Protocol):
    """The managed runtimes (`runtimes.catalog.Runtimes`), as zip functions use them."""

    def names(self) -> list[str]: ...

    async def image(self, name: str) -> str: ...

    def environment(self, name: str) -> dict[str, str]: ...

    def deprecated(self, name: str) -> bool: ...


@dataclass(frozen=True)
class StoredPackage:
    """A package in the store: its zip blob, its tar layer blob (digest = diff ID) and sizes."""

    zip_digest: str
    size: int  # of the zip: Lambda's CodeSize
    layer_digest: str
    layer_size: int
    unzipped_size: int

    @property
    def sha256_hex(self) -> str:
        return self.zip_digest.partition(":")[2]


class PackageImages:
    """Stores packages and composes zip functions' images in lambkin's own catalog."""

    def __init__(self, catalog: Catalog, images: ImageService, runtimes: RuntimeCatalog) -> None:
        self.catalog = catalog
        self.blobs: BlobStore = catalog.blobs
        self.images = images
        self.runtimes = runtimes

    async def store(self, data: bytes, root: str, budget: int = UNZIPPED_LIMIT) -> StoredPackage:
        """Checks the zip (raises PackageRejected) and stores it with its layer under `root`."""
        package: Package = await asyncio.to_thread(measure, data, budget)
        zip_digest, layer_digest, layer_size = await asyncio.to_thread(self._write, data, root)
        empty = await asyncio.to_thread(self.blobs.put_bytes, b"{}")
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": PACKAGE_ARTIFACT,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": empty, "size": 2},
            "layers": [
                {"mediaType": ZIP_MEDIA_TYPE, "digest": zip_digest, "size": package.size},
                {"mediaType": OCI_LAYER_TAR, "digest": layer_digest, "size": layer_size},
            ],
        }
        raw = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        await self.catalog.put_manifest(PACKAGES, sha256_digest(raw), raw, OCI_MANIFEST)
        return StoredPackage(zip_digest, package.size, layer_digest, layer_size, package.unzipped_size)

    def _write(self, data: bytes, root: str) -> tuple[str, str, int]:
        zip_digest = self.blobs.put_bytes(data)
        staged = self.blobs.new_staging_path()
        try:
            with staged.open("wb") as out:
                hasher = _HashingWriter(out)
                # /opt is there for every function, layers or not, as in Lambda
                to_layer(data, root, hasher, (OPT,) if root == TASK_ROOT else ())
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + hasher.hash.hexdigest()
            self.blobs.adopt(staged, digest)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return zip_digest, digest, hasher.size

    def zip_path(self, digest: str) -> os.PathLike[str]:
        """Where a stored package's zip is (for downloads)."""
        return self.blobs.path(digest)

    async def compose(
        self,
        runtime: str,
        handler: str | None,
        layers: Sequence[tuple[str, int]],
        code: tuple[str, int],
        architecture: str | None = None,
    ) -> str:
        """The URI of the image a zip function runs: the runtime's image (raises the catalog's
        RuntimeNotAvailable), then `layers` and `code` ((digest, size) of tar layers), bottom first."""
        runtime_uri = await self.runtimes.image(runtime)
        base = await self.images.resolve(runtime_uri, architecture)
        environment = dict(self.runtimes.environment(runtime))
        if handler:
            environment["_HANDLER"] = handler
        env = [item for item in base.config.env if item.partition("=")[0] not in environment]
        env += [f"{key}={value}" for key, value in environment.items()]
        added = [*layers, code]
        config = {
            "architecture": base.config.architecture,
            "os": base.config.os or "linux",
            "config": {
                "Entrypoint": list(base.config.entrypoint or base.config.cmd),
                # The runtime's bootstrap takes the handler as $1 (else _HANDLER); a custom runtime's own
                # bootstrap (provided.*) gets no arguments, as in Lambda.
                "Cmd": [handler] if handler and not runtime.startswith("provided") else [],
                "Env": env,
                "WorkingDir": "/" + TASK_ROOT,
                **({"User": base.config.user} if base.config.user else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [*base.diff_ids(), *(d for d, _ in added)]},
        }
        raw_config = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
        config_digest = await asyncio.to_thread(self.blobs.put_bytes, raw_config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(raw_config)},
            "layers": [
                *(layer.to_json() for layer in base.layers),
                *({"mediaType": OCI_LAYER_TAR, "digest": d, "size": s} for d, s in added),
            ],
        }
        raw = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        digest = await self.catalog.put_manifest(FUNCTIONS, sha256_digest(raw), raw, OCI_MANIFEST)
        return f"{REGISTRY}/{FUNCTIONS}@{digest}"


class _HashingWriter:
    """A write-only stream that hashes and counts what passes through it to `out`."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)
