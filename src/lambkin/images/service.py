"""The images facade for the control plane and the execution core: resolve an image URI, prepare its layers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambkin.images.addresses import RegistryAllowList
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog
from lambkin.images.errors import ManifestUnknown, RegistryError
from lambkin.images.layers import KeyedLock, LayerStore
from lambkin.images.manifests import (
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    host_architecture,
    parse_config,
    parse_manifest,
)
from lambkin.images.pull import (
    ARCHITECTURE_ALIASES,
    ContentInvalid,
    ImageNotFound,
    InvalidReference,
    PlatformMismatch,
    RegistryClient,
)
from lambkin.images.reference import LOCAL_HOSTS, ImageReference, parse_reference
from lambkin.images.registry_auth import load_auth_files
from lambkin.images.unpack import ImageBudget, ImageLimits, LayerRejected

PARALLEL_UNPACKS = 2


@dataclass(frozen=True)
class ResolvedImage:
    """An image URI pinned to one image manifest: what a function version runs, whatever tags do later."""

    repository: str
    digest: str
    resolved_uri: str  # registry/repository@sha256:..., Lambda's ResolvedImageUri
    config: ImageConfig
    layers: tuple[Descriptor, ...]  # bottom first, as in the manifest
    code_size: int  # bytes of config and layers, as stored

    def diff_ids(self) -> tuple[str, ...]:
        return self.config.diff_ids


class ImageService:
    """Resolves image URIs (lambkin's own registry, or a pull from any other) and prepares root layers.

    Problems with the image or its registry raise `pull.ImageUnavailable` subclasses, with a message
    fit for the API caller; lambkin's own troubles (a full disk) raise as themselves (OSError).
    """

    def __init__(
        self,
        host: str,
        port: int,
        catalog: Catalog,
        layers: LayerStore,
        client: RegistryClient,
        limits: ImageLimits | None = None,
        aliases: Callable[[], Iterable[str]] = tuple,
        learn_aliases: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.host = host  # lambkin's own address: its registry's
        self.port = port
        self.aliases = aliases  # other host:port names of its registry (its peers', a load balancer's)
        self.learn_aliases = learn_aliases  # brings `aliases` up to date (a peer started a moment ago)
        self.catalog = catalog
        self.blobs: BlobStore = catalog.blobs
        self.layers = layers
        self.client = client
        self.limits = limits  # None: unbounded
        self._pulls = KeyedLock()

    def is_own_registry(self, ref: ImageReference) -> bool:
        """Whether `ref` names lambkin's own registry: its host:port, loopback with its port, or one of its
        other names (a cluster's registry is one, whichever node a URI names)."""
        if ref.registry.lower() in {alias.lower() for alias in self.aliases()}:
            return True
        if ref.port != self.port:
            return False
        if ref.host == self.host or ref.host in LOCAL_HOSTS:
            return True
        # Bound to every interface, lambkin is also reachable under the machine's own name.
        return self.host in ("0.0.0.0", "::") and ref.host == socket.gethostname()

    async def resolve(self, image_uri: str, architecture: str | None = None) -> ResolvedImage:
        """Pins `image_uri` to a digest, pulling it first unless it is in lambkin's own registry.

        `architecture` is Lambda's (`x86_64`, `arm64`) or OCI's name; default: the host's.
        """
        arch = ARCHITECTURE_ALIASES.get(architecture or "", architecture or host_architecture())
        try:
            ref = parse_reference(image_uri)
        except RegistryError as exc:
            raise InvalidReference(f"invalid image URI {image_uri!r}: {exc.message}") from exc
        pinned_here = ref.digest is not None and await self.catalog.has_manifest(ref.repository, ref.digest)
        if self.is_own_registry(ref) or pinned_here or await self._own_after_learning(ref):
            # A digest pulled before is the same content wherever it came from: no registry needed.
            digest, manifest, config = await self._local(ref, arch)
        else:
            async with self._pulls.hold(str(ref)):
                pulled = await self.client.pull(ref, architecture=arch)
            digest, manifest, config = pulled.digest, pulled.manifest, pulled.config
        if config.os and config.os != "linux":
            raise PlatformMismatch(f"{image_uri} is a {config.os} image; lambkin runs linux images")
        if config.architecture and config.architecture != arch:
            raise PlatformMismatch(f"{image_uri} is built for {config.architecture}, not {arch}")
        if len(config.diff_ids) != len(manifest.layers):
            raise ContentInvalid(
                f"{image_uri}: the config names {len(config.diff_ids)} layers, the manifest {len(manifest.layers)}"
            )
        return ResolvedImage(
            repository=ref.repository,
            digest=digest,
            resolved_uri=f"{ref.registry}/{ref.repository}@{digest}",
            config=config,
            layers=manifest.layers,
            code_size=manifest.config.size + sum(layer.size for layer in manifest.layers),
        )

    async def _own_after_learning(self, ref: ImageReference) -> bool:
        """Whether `ref` names lambkin's registry by a name learnt just now: a URI naming a node that
        started after this one last heard of its peers is not pulled from the outside."""
        if self.learn_aliases is None:
            return False
        await self.learn_aliases()
        return self.is_own_registry(ref)

    async def _local(self, ref: ImageReference, arch: str) -> tuple[str, ImageManifest, ImageConfig]:
        try:
            stored = await self.catalog.get_manifest(ref.repository, ref.reference)
            manifest = parse_manifest(stored.raw, stored.media_type)
            digest = stored.digest
            if isinstance(manifest, ImageIndex):
                chosen = manifest.select_platform("linux", arch)
                stored = await self.catalog.get_manifest(ref.repository, chosen.digest)
                manifest = parse_manifest(stored.raw, stored.media_type)
                digest = stored.digest
        except ManifestUnknown as exc:
            raise ImageNotFound(f"{ref}: {exc.message}") from exc
        except RegistryError as exc:
            raise ContentInvalid(f"{ref}: {exc.message}") from exc
        if not isinstance(manifest, ImageManifest):
            raise ContentInvalid(f"{ref}: the index entry for linux/{arch} is itself an index")
        await self._here(str(ref), manifest.config.digest)
        try:
            raw_config = await asyncio.to_thread(self.blobs.read, manifest.config.digest)
            config = parse_config(raw_config)
        except FileNotFoundError as exc:
            raise ContentInvalid(f"{ref}: its config blob {manifest.config.digest} is missing") from exc
        except RegistryError as exc:
            raise ContentInvalid(f"{ref}: {exc.message}") from exc
        return digest, manifest, config

    async def _here(self, image_uri: str, digest: str) -> None:
        """Makes sure this node has a blob of the image, fetched from a peer if another node has it; raises
        ImageNotFound (a version's StateReasonCode ImageDeleted) if no live node has it intact."""
        if not await self.catalog.peers.ensure(digest):
            raise ImageNotFound(f"{image_uri}: no live node holds its blob {digest} intact")

    async def prepare(self, image: ResolvedImage) -> tuple[Path, ...]:
        """Unpacks every layer not yet unpacked (each once, shared); returns the lower dirs, top-most first.

        A layer that appears twice is kept only at its top-most place (the same root either way, and
        overlayfs refuses a directory twice). The layers unpacked now share one budget of the service's limits.
        """
        pairs = list(zip(image.layers, image.config.diff_ids, strict=True))
        budget = ImageBudget(self.limits) if self.limits is not None else None
        limit = asyncio.Semaphore(PARALLEL_UNPACKS)
        paths: dict[str, Path] = {}

        async def one(layer: Descriptor, diff_id: str) -> None:
            async with limit:
                if not self.layers.exists(diff_id):
                    await self._here(image.resolved_uri, layer.digest)
                paths[diff_id] = await self.layers.ensure(layer.digest, diff_id, budget)

        try:
            async with asyncio.TaskGroup() as group:
                for layer, diff_id in {d: (layer, d) for layer, d in pairs}.values():
                    group.create_task(one(layer, diff_id))
        except* ImageNotFound as unavailable:
            raise unavailable.exceptions[0] from None
        except* LayerRejected as rejected:
            raise ContentInvalid(f"{image.resolved_uri}: {rejected.exceptions[0]}") from rejected
        except* FileNotFoundError as missing:
            raise ContentInvalid(
                f"{image.resolved_uri}: a layer blob is missing: {missing.exceptions[0]}"
            ) from missing
        return tuple(_top_most_first([paths[d] for _, d in pairs]))


def build_image_service(
    data_dir: Path,
    host: str,
    port: int,
    catalog: Catalog,
    limits: ImageLimits | None = None,
    private_registries: Sequence[str] = (),
    insecure_registries: Sequence[str] = (),
    aliases: Callable[[], Iterable[str]] = tuple,
    learn_aliases: Callable[[], Awaitable[None]] | None = None,
) -> ImageService:
    """The service over a data directory's stores, with the logins skopeo/docker keep for pulls, for the
    server listening on `host`:`port`, unpacking images within `limits`. Pulls reach public addresses and
    the registries listed as private or insecure (those also without TLS checks, or over plain http);
    an entry is `host`, `host:port` or a network. Raises ValueError for an entry that is none of these.
    An image URI naming one of `aliases()` (host:port) is in lambkin's own registry; `learn_aliases()`
    brings them up to date before a URI is taken for another registry's."""
    layers = LayerStore(data_dir / "layers", catalog.blobs)
    insecure = RegistryAllowList.parse(insecure_registries)
    allowed = RegistryAllowList.parse(private_registries) | insecure
    client = RegistryClient(
        catalog.blobs, catalog, credentials=load_auth_files(), allowed=allowed, insecure=insecure
    )
    return ImageService(host, port, catalog, layers, client, limits, aliases, learn_aliases)


def _top_most_first(bottom_first: Sequence[Path]) -> list[Path]:
    ordered: list[Path] = []
    for path in reversed(bottom_first):
        if path not in ordered:
            ordered.append(path)
    return ordered
