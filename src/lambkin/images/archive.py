"""Importing images from `docker save` archives, OCI image layouts (directories) and OCI archives (tars)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lambkin import json_depth
from lambkin.images.blobs import BlobStore, check_digest, sha256_digest
from lambkin.images.catalog import TAG_RE, Catalog, check_repository
from lambkin.images.errors import RegistryError
from lambkin.images.manifests import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_LAYER_TAR,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    host_architecture,
    parse_config,
    parse_manifest,
)
from lambkin.images.pull import (
    ContentInvalid,
    ImageUnavailable,
    InvalidReference,
    ProgressCallback,
    PullProgress,
)

CHUNK = 1 << 20
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class ArchiveInvalid(ContentInvalid):
    """A file that is not a docker-archive, an OCI layout or an OCI archive, or one with broken content."""


@dataclass(frozen=True)
class ImportedImage:
    repository: str
    tag: str
    digest: str


@dataclass(frozen=True)
class _Pending:
    """One image read from an archive, its blobs already in the store, its manifest not yet in the catalog."""

    names: tuple[tuple[str, str], ...]  # (repository, tag)
    raw: bytes
    media_type: str


Opener = Callable[[str], IO[bytes]]


async def import_archive(
    path: Path,
    catalog: Catalog,
    tag: str | None = None,
    architecture: str | None = None,
    progress: ProgressCallback | None = None,
) -> list[ImportedImage]:
    """Imports every image in the archive or layout at `path`; `tag` (`repo[:tag]`) names a lone image.

    Blobs are copied (streamed, digests verified) into the BlobStore in a worker thread, then each
    manifest is stored in the Catalog under its names. Raises ImageUnavailable subclasses.

    `progress` hears of each layer as a pull's display does: "copying" once per CHUNK copied, then
    "done" (or "exists" when the store has it already). It is called from the worker thread.
    """
    override = _parse_name(tag) if tag else None
    notify = progress or _ignore
    arch = architecture or host_architecture()
    pending = await asyncio.to_thread(_read, path, _Sink(catalog.blobs, notify), arch)
    if override is not None:
        if len(pending) != 1:
            raise ArchiveInvalid(f"{path} holds {len(pending)} images; --tag can name only one")
        pending = [_Pending((override,), pending[0].raw, pending[0].media_type)]
    imported: list[ImportedImage] = []
    for image in pending:
        if not image.names:
            raise InvalidReference(f"{path} does not name its image; give one with --tag REPOSITORY:TAG")
        for repository, image_tag in image.names:
            try:
                digest = await catalog.put_manifest(repository, image_tag, image.raw, image.media_type)
            except RegistryError as exc:
                raise ArchiveInvalid(f"{path}: {exc.message}") from exc
            imported.append(ImportedImage(repository, image_tag, digest))
    return imported


def _ignore(_: PullProgress) -> None:
    pass


@dataclass(frozen=True)
class _Sink:
    """Where blobs read from an archive go, and who hears of their progress."""

    blobs: BlobStore
    notify: ProgressCallback


def _read(path: Path, sink: _Sink, arch: str) -> list[_Pending]:
    if path.is_dir():
        if not (path / "index.json").is_file():
            raise ArchiveInvalid(f"{path} is a directory without index.json: not an OCI image layout")
        return _read_oci(lambda name: (path / name).open("rb"), sink, arch, str(path))
    try:
        archive = tarfile.open(path, "r:*")  # noqa: SIM115 (closed below, after the checks)
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveInvalid(f"{path} is not a tar archive or OCI layout: {exc}") from exc
    with archive:
        sizes = {member.name: member.size for member in archive.getmembers()}
        opener = _tar_opener(archive, str(path))
        if "index.json" in sizes and "oci-layout" in sizes:
            return _read_oci(opener, sink, arch, str(path))
        if "manifest.json" in sizes:
            return _read_docker(opener, sink, str(path), sizes)
    raise ArchiveInvalid(f"{path} has neither index.json (OCI) nor manifest.json (docker save)")


def _tar_opener(archive: tarfile.TarFile, where: str) -> Opener:
    def open_member(name: str) -> IO[bytes]:
        try:
            member = archive.extractfile(name.removeprefix("./"))
        except KeyError:
            member = None
        if member is None:
            raise ArchiveInvalid(f"{where}: {name} is missing from the archive")
        return member

    return open_member


def _read_oci(open_file: Opener, sink: _Sink, arch: str, where: str) -> list[_Pending]:
    index = _json(open_file, "index.json", where)
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ArchiveInvalid(f"{where}: index.json has no manifests list")
    found: list[_Pending] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            raise ArchiveInvalid(f"{where}: index.json has a malformed entry")
        annotations = entry.get("annotations") or {}
        raw, media_type = _oci_blob(open_file, entry["digest"], where), entry.get("mediaType", "")
        manifest = _parse(raw, media_type, where)
        if isinstance(manifest, ImageIndex):
            try:
                chosen = manifest.select_platform("linux", arch)
            except RegistryError as exc:
                raise ArchiveInvalid(f"{where}: {exc.message}") from exc
            raw, media_type = _oci_blob(open_file, chosen.digest, where), chosen.media_type
            manifest = _parse(raw, media_type, where)
            if not isinstance(manifest, ImageManifest):
                raise ArchiveInvalid(f"{where}: nested indexes are not supported")
        for blob in manifest.references():
            if sink.blobs.exists(blob.digest):
                sink.notify(PullProgress(blob.digest, "exists", blob.size, blob.size))
                continue
            with open_file(_blob_name(blob.digest)) as stream:
                _store(sink, stream, blob.digest, where, blob.digest, blob.size)
        name = annotations.get(CONTAINERD_NAME) or annotations.get(REF_NAME)
        names = (_name_from_annotation(name),) if isinstance(name, str) and ":" in name else ()
        found.append(_Pending(names, raw, manifest.media_type))
    return found


def _read_docker(open_file: Opener, sink: _Sink, where: str, sizes: dict[str, int]) -> list[_Pending]:
    """`docker save`: manifest.json lists each image's config file, repo tags and layer tars."""
    entries = _json(open_file, "manifest.json", where)
    if not isinstance(entries, list):
        raise ArchiveInvalid(f"{where}: manifest.json must be a list")
    found: list[_Pending] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveInvalid(f"{where}: manifest.json entry without Config")
        with open_file(entry["Config"]) as stream:
            config_raw = stream.read(4 << 20)
        try:
            diff_ids = parse_config(config_raw).diff_ids
        except RegistryError as exc:
            raise ArchiveInvalid(f"{where}: {entry['Config']}: {exc.message}") from exc
        if len(diff_ids) != len(entry.get("Layers") or []):
            raise ArchiveInvalid(
                f"{where}: {entry['Config']} names {len(diff_ids)} layers, manifest.json others"
            )
        config_digest = sink.blobs.put_bytes(config_raw)
        layers = []
        for name, diff_id in zip(entry.get("Layers") or [], diff_ids, strict=True):
            with open_file(name) as stream:  # shown by its diff ID: its digest once hashed, if uncompressed
                total = sizes.get(name.removeprefix("./"), 0)
                digest, size, head = _store(sink, stream, None, where, diff_id, total)
            media_type = (
                OCI_LAYER_GZIP
                if head.startswith(b"\x1f\x8b")
                else OCI_LAYER_ZSTD
                if head.startswith(b"\x28\xb5\x2f\xfd")
                else OCI_LAYER_TAR
            )
            layers.append({"mediaType": media_type, "digest": digest, "size": size})
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_raw)},
            "layers": layers,
        }
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        tags = entry.get("RepoTags") or []
        names = tuple(_name_from_annotation(t) for t in tags if isinstance(t, str))
        found.append(_Pending(names, raw, OCI_MANIFEST))
    return found


def _store(
    sink: _Sink, stream: IO[bytes], expected: str | None, where: str, shown_as: str, total: int
) -> tuple[str, int, bytes]:
    """Streams one blob into the store; returns its digest, size and first bytes."""
    blobs, notify = sink.blobs, sink.notify
    staged = blobs.new_staging_path()
    hasher = hashlib.sha256()
    size = 0
    head = b""
    try:
        with staged.open("wb") as out:
            while chunk := stream.read(CHUNK):
                if not head:
                    head = chunk[:4]
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
                notify(PullProgress(shown_as, "copying", size, max(total, size)))
        digest = "sha256:" + hasher.hexdigest()
        if expected is not None and digest != expected:
            raise ArchiveInvalid(f"{where}: blob {expected} hashes to {digest}")
        blobs.adopt(staged, digest)
        notify(PullProgress(shown_as, "done", size, max(total, size)))
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return digest, size, head


def _oci_blob(open_file: Opener, digest: str, where: str) -> bytes:
    with open_file(_blob_name(digest)) as stream:
        raw = stream.read(4 << 20)
    if sha256_digest(raw) != digest:
        raise ArchiveInvalid(f"{where}: blob {digest} does not match its digest")
    return raw


def _blob_name(digest: str) -> str:
    try:
        algorithm, hexdigest = check_digest(digest).split(":", 1)
    except ValueError as exc:
        raise ArchiveInvalid(str(exc)) from exc
    return f"blobs/{algorithm}/{hexdigest}"


def _parse(raw: bytes, media_type: str, where: str) -> ImageManifest | ImageIndex:
    try:
        return parse_manifest(raw, media_type or None)
    except RegistryError as exc:
        raise ArchiveInvalid(f"{where}: {exc.message}") from exc


def _json(open_file: Opener, name: str, where: str) -> Any:
    with open_file(name) as stream:
        try:
            return json_depth.loads(stream.read(16 << 20))
        except ValueError as exc:
            raise ArchiveInvalid(f"{where}: {name} is not valid JSON: {exc}") from exc


def _name_from_annotation(name: str) -> tuple[str, str]:
    """`[registry/]repository:tag` as recorded in an archive, without the registry host."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        name = rest
        if first == "docker.io" and name.startswith("library/"):
            name = name.removeprefix("library/")  # docker's own short form: busybox, not library/busybox
    return _parse_name(name)


def _parse_name(text: str) -> tuple[str, str]:
    """`repository[:tag]` (default tag `latest`); raises InvalidReference."""
    repository, tag = text, "latest"
    slash, colon = text.rfind("/"), text.rfind(":")
    if colon > slash:
        repository, tag = text[:colon], text[colon + 1 :]
    try:
        check_repository(repository)
    except RegistryError as exc:
        raise InvalidReference(f"invalid image name {text!r}: {exc.message}") from exc
    if not TAG_RE.match(tag):
        raise InvalidReference(f"invalid tag {tag!r} in {text!r}")
    return repository, tag


__all__ = ["ArchiveInvalid", "ImageUnavailable", "ImportedImage", "import_archive"]
