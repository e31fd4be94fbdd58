"""OCI and Docker v2 schema 2 manifests, indexes and image configs: media types, parsing, validation."""

from __future__ import annotations

import platform as host_platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lambkin import json_depth
from lambkin.images.errors import ManifestInvalid, NoMatchingPlatform, UnsupportedMediaType

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES

Compression = Literal["gzip", "zstd", "none"]
LAYER_COMPRESSION: Mapping[str, Compression] = {
    OCI_LAYER_TAR: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST_TAR: "none",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    DOCKER_LAYER: "gzip",
    DOCKER_FOREIGN_LAYER: "gzip",
}

MAX_MANIFEST_BYTES = 4 << 20
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_MEDIA_TYPE_RE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
_GENERIC_CONTENT_TYPES = frozenset({"", "application/json", "application/octet-stream", "text/plain"})
_OCI_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def host_architecture() -> str:
    """The host's architecture as an OCI name (amd64 on x86_64, arm64 on aarch64)."""
    machine = host_platform.machine().lower()
    return _OCI_ARCH.get(machine, machine)


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: what it is, its digest and size (and, in an index, its platform)."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    artifact_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            doc["artifactType"] = self.artifact_type
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        if self.platform is not None:
            plat = {"os": self.platform.os, "architecture": self.platform.architecture}
            doc["platform"] = plat | ({"variant": self.platform.variant} if self.platform.variant else {})
        return doc


@dataclass(frozen=True)
class ImageManifest:
    """One image: a config blob and its layers, bottom first. Also OCI artifacts (any config type)."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)

    def references(self) -> tuple[Descriptor, ...]:
        """Every blob this manifest needs in the registry."""
        return (self.config, *self.layers)

    @property
    def kind_of_artifact(self) -> str:
        """What the referrers API lists it as: its artifactType, else its config's media type."""
        return self.artifact_type or self.config.media_type


@dataclass(frozen=True)
class ImageIndex:
    """A multi-platform image: a list of manifests, one per platform (OCI index or Docker list)."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def kind_of_artifact(self) -> str | None:
        return self.artifact_type

    def select_platform(
        self, os: str = "linux", architecture: str | None = None, variant: str | None = None
    ) -> Descriptor:
        """The entry for this os/architecture (default: the host's); raises NoMatchingPlatform.

        With several entries for the architecture, the one with the asked-for variant wins, then one
        without a variant, then the first in the index's order.
        """
        arch = architecture or host_architecture()
        candidates = [
            d
            for d in self.manifests
            if d.platform is not None
            and d.platform.os == os
            and d.platform.architecture == arch
            and d.media_type in IMAGE_MANIFEST_TYPES
        ]
        if not candidates:
            available = ", ".join(str(d.platform) for d in self.manifests if d.platform) or "none"
            raise NoMatchingPlatform(
                f"the image index has no manifest for {os}/{arch} (available: {available})",
                {"os": os, "architecture": arch},
            )

        def rank(d: Descriptor) -> tuple[bool, bool]:
            have = d.platform.variant if d.platform else None
            return (variant is not None and have == variant, have is None)

        return max(candidates, key=rank)


@dataclass(frozen=True)
class ImageConfig:
    """What a container runs, from the image config: the parts lambkin honours."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    working_dir: str
    env: tuple[str, ...]
    user: str
    architecture: str
    os: str
    diff_ids: tuple[str, ...]
    variant: str | None = None


Manifest = ImageManifest | ImageIndex


def parse_manifest(raw: bytes, media_type: str | None = None) -> Manifest:
    """Parses and schema-checks a manifest or index.

    The media type is `media_type` (a Content-Type; parameters and generic JSON types are ignored) or
    else the document's own `mediaType` field. Raises UnsupportedMediaType for types lambkin does not
    handle (including Docker schema 1) and ManifestInvalid for anything malformed.
    """
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"manifest is {len(raw)} bytes; the limit is {MAX_MANIFEST_BYTES}")
    doc = _load_object(raw, "manifest")
    declared = _clean_content_type(media_type)
    field_type = doc.get("mediaType")
    if field_type is not None and not isinstance(field_type, str):
        raise ManifestInvalid("manifest mediaType must be a string")
    if (
        declared
        and declared not in MANIFEST_TYPES
        and declared not in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)
    ):
        raise UnsupportedMediaType(
            f"unsupported manifest media type {declared!r}; expected one of {', '.join(sorted(MANIFEST_TYPES))}",
            {"mediaType": declared},
        )
    if declared and field_type and declared != field_type:
        raise ManifestInvalid(
            f"Content-Type {declared!r} does not match the manifest's mediaType {field_type!r}"
        )
    if declared in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED) or doc.get("schemaVersion") == 1:
        raise UnsupportedMediaType("Docker image manifest schema 1 is not supported; push schema 2 or OCI")
    kind = declared or field_type or _infer_type(doc)
    if kind not in MANIFEST_TYPES:
        raise UnsupportedMediaType(
            f"unsupported manifest media type {kind!r}; expected one of {', '.join(sorted(MANIFEST_TYPES))}",
            {"mediaType": kind},
        )
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("manifest schemaVersion must be 2")
    subject = _descriptor(doc["subject"], "subject") if "subject" in doc else None
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and (
        not isinstance(artifact_type, str) or not _MEDIA_TYPE_RE.match(artifact_type)
    ):
        raise ManifestInvalid(f"artifactType is not a media type: {artifact_type!r}")
    annotations = _annotations(doc.get("annotations"), "manifest")
    if kind in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise ManifestInvalid("index must have a manifests array")
        descriptors = tuple(_descriptor(e, f"manifests[{i}]") for i, e in enumerate(entries))
        return ImageIndex(kind, descriptors, subject, artifact_type, annotations)
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ManifestInvalid("manifest must have a layers array")
    if "config" not in doc:
        raise ManifestInvalid("manifest must have a config descriptor")
    return ImageManifest(
        kind,
        _descriptor(doc["config"], "config"),
        tuple(_descriptor(e, f"layers[{i}]") for i, e in enumerate(layers)),
        subject,
        artifact_type,
        annotations,
    )


def parse_config(raw: bytes) -> ImageConfig:
    """Parses an OCI or Docker image config; raises ManifestInvalid if it is malformed."""
    doc = _load_object(raw, "image config")
    conf = {} if doc.get("config") is None else doc["config"]
    rootfs = {} if doc.get("rootfs") is None else doc["rootfs"]
    if not isinstance(conf, dict) or not isinstance(rootfs, dict):
        raise ManifestInvalid("image config: config and rootfs must be objects")
    diff_ids = _strings(rootfs.get("diff_ids"), "rootfs.diff_ids")
    for d in diff_ids:
        if not _DIGEST_RE.match(d):
            raise ManifestInvalid(f"image config: invalid diff_id {d!r}")
    return ImageConfig(
        entrypoint=_strings(conf.get("Entrypoint"), "config.Entrypoint"),
        cmd=_strings(conf.get("Cmd"), "config.Cmd"),
        working_dir=_string(conf.get("WorkingDir"), "config.WorkingDir"),
        env=_strings(conf.get("Env"), "config.Env"),
        user=_string(conf.get("User"), "config.User"),
        architecture=_string(doc.get("architecture"), "architecture"),
        os=_string(doc.get("os"), "os"),
        diff_ids=diff_ids,
        variant=_string(doc.get("variant"), "variant") or None,
    )


def layer_compression(media_type: str) -> Compression:
    """How a layer blob is compressed, from its media type; raises UnsupportedMediaType."""
    try:
        return LAYER_COMPRESSION[media_type]
    except KeyError:
        raise UnsupportedMediaType(f"unsupported layer media type {media_type!r}") from None


def _clean_content_type(value: str | None) -> str:
    kind = (value or "").split(";", 1)[0].strip().lower()
    return "" if kind in _GENERIC_CONTENT_TYPES else kind


def _infer_type(doc: dict[str, Any]) -> str:
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc or "layers" in doc:
        return OCI_MANIFEST
    raise ManifestInvalid("manifest has no mediaType and is neither an image manifest nor an index")


def _load_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json_depth.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestInvalid(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid(f"{what} must be a JSON object")
    return doc


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not _MEDIA_TYPE_RE.match(media_type):
        raise ManifestInvalid(f"{where}.mediaType is missing or not a media type: {media_type!r}")
    digest = value.get("digest")
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise ManifestInvalid(f"{where}.digest is missing or not a sha256 digest: {digest!r}")
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}.size must be a non-negative integer, not {size!r}")
    plat = value.get("platform")
    platform = None
    if plat is not None:
        if not isinstance(plat, dict):
            raise ManifestInvalid(f"{where}.platform must be an object")
        os_name, arch = plat.get("os"), plat.get("architecture")
        variant = plat.get("variant")
        if not isinstance(os_name, str) or not isinstance(arch, str):
            raise ManifestInvalid(f"{where}.platform needs string os and architecture")
        if variant is not None and not isinstance(variant, str):
            raise ManifestInvalid(f"{where}.platform.variant must be a string")
        platform = Platform(os_name, arch, variant or None)
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid(f"{where}.artifactType must be a string")
    annotations = _annotations(value.get("annotations"), where)
    return Descriptor(media_type, digest, size, platform, annotations, artifact_type or None)


def _annotations(value: Any, where: str) -> dict[str, str]:
    annotations = value or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise ManifestInvalid(f"{where}.annotations must map strings to strings")
    return dict(annotations)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestInvalid(f"image config: {where} must be a list of strings")
    return tuple(value)


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ManifestInvalid(f"image config: {where} must be a string")
    return value
