"""Manifest, index and config parsing: media types, schema checks, platform selection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambkin.images import manifests as m
from lambkin.images.errors import ManifestInvalid, NoMatchingPlatform, UnsupportedMediaType

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64


def image_manifest(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": m.OCI_MANIFEST,
        "config": {"mediaType": m.OCI_CONFIG, "digest": DIGEST_A, "size": 10},
        "layers": [{"mediaType": m.OCI_LAYER_GZIP, "digest": DIGEST_B, "size": 20}],
    }
    doc.update(overrides)
    return doc


def index(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": m.OCI_INDEX, "manifests": list(entries)}


def entry(digest: str, arch: str, variant: str | None = None, os: str = "linux") -> dict[str, Any]:
    platform = {"os": os, "architecture": arch} | ({"variant": variant} if variant else {})
    return {"mediaType": m.OCI_MANIFEST, "digest": digest, "size": 1, "platform": platform}


def raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_oci_manifest_parses_config_and_layers() -> None:
    parsed = m.parse_manifest(raw(image_manifest()), m.OCI_MANIFEST)
    assert isinstance(parsed, m.ImageManifest)
    assert parsed.config == m.Descriptor(m.OCI_CONFIG, DIGEST_A, 10)
    assert [layer.digest for layer in parsed.layers] == [DIGEST_B]
    assert [d.digest for d in parsed.references()] == [DIGEST_A, DIGEST_B]


def test_docker_schema2_media_type_comes_from_the_document_when_content_type_is_generic() -> None:
    doc = image_manifest(mediaType=m.DOCKER_MANIFEST)
    parsed = m.parse_manifest(raw(doc), "application/json; charset=utf-8")
    assert parsed.media_type == m.DOCKER_MANIFEST


def test_missing_media_type_is_inferred() -> None:
    doc = image_manifest()
    del doc["mediaType"]
    assert m.parse_manifest(raw(doc), None).media_type == m.OCI_MANIFEST
    assert m.parse_manifest(raw({"schemaVersion": 2, "manifests": []}), None).media_type == m.OCI_INDEX


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", m.OCI_MANIFEST),
        (b"[]", m.OCI_MANIFEST),
        (raw(image_manifest(schemaVersion=3)), m.OCI_MANIFEST),
        (raw(image_manifest(layers="x")), m.OCI_MANIFEST),
        (raw(image_manifest(config={"mediaType": m.OCI_CONFIG, "digest": "sha256:xyz", "size": 1})), None),
        (raw(image_manifest(config={"mediaType": m.OCI_CONFIG, "digest": DIGEST_A, "size": -1})), None),
        (raw(image_manifest(config={"mediaType": m.OCI_CONFIG, "digest": DIGEST_A, "size": True})), None),
        (raw(image_manifest(config={"mediaType": "nope", "digest": DIGEST_A, "size": 1})), None),
        (raw(image_manifest()), m.OCI_INDEX),
        (raw({"schemaVersion": 2}), None),
    ],
)
def test_malformed_manifests_are_invalid(body: bytes, content_type: str | None) -> None:
    with pytest.raises(ManifestInvalid):
        m.parse_manifest(body, content_type)


@pytest.mark.parametrize(
    ("doc", "content_type"),
    [
        (image_manifest(mediaType="application/vnd.example.thing+json"), None),
        ({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}, m.DOCKER_SCHEMA1_SIGNED),
        ({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}, None),
    ],
)
def test_unknown_media_types_and_schema1_are_unsupported(
    doc: dict[str, Any], content_type: str | None
) -> None:
    with pytest.raises(UnsupportedMediaType):
        m.parse_manifest(raw(doc), content_type)


def test_index_selects_the_host_platform_and_prefers_no_variant() -> None:
    parsed = m.parse_manifest(
        raw(index(entry(DIGEST_A, "arm64", "v8"), entry(DIGEST_B, "amd64", "v3"), entry(DIGEST_C, "amd64")))
    )
    assert isinstance(parsed, m.ImageIndex)
    assert parsed.select_platform(architecture="amd64").digest == DIGEST_C
    assert parsed.select_platform(architecture="amd64", variant="v3").digest == DIGEST_B
    assert parsed.select_platform(architecture="arm64").digest == DIGEST_A
    assert parsed.select_platform().platform is not None


def test_index_without_the_platform_says_what_it_has() -> None:
    parsed = m.parse_manifest(raw(index(entry(DIGEST_A, "arm64"), entry(DIGEST_B, "unknown", os="unknown"))))
    assert isinstance(parsed, m.ImageIndex)
    with pytest.raises(NoMatchingPlatform, match="linux/arm64"):
        parsed.select_platform(architecture="s390x")


def test_host_architecture_uses_oci_names() -> None:
    assert m.host_architecture() in {"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"}


def test_config_gives_what_the_container_runs() -> None:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": ["/lambda-entrypoint.sh"],
            "Cmd": ["app.handler"],
            "WorkingDir": "/var/task",
            "Env": ["PATH=/usr/bin"],
            "User": "1000:1000",
        },
        "rootfs": {"type": "layers", "diff_ids": [DIGEST_A, DIGEST_B]},
    }
    parsed = m.parse_config(raw(config))
    assert parsed == m.ImageConfig(
        entrypoint=("/lambda-entrypoint.sh",),
        cmd=("app.handler",),
        working_dir="/var/task",
        env=("PATH=/usr/bin",),
        user="1000:1000",
        architecture="amd64",
        os="linux",
        diff_ids=(DIGEST_A, DIGEST_B),
    )


def test_config_with_nulls_is_empty_not_an_error() -> None:
    parsed = m.parse_config(raw({"architecture": "amd64", "os": "linux", "config": {"Cmd": None}}))
    assert parsed.cmd == () and parsed.entrypoint == () and parsed.diff_ids == ()


@pytest.mark.parametrize(
    "config",
    [{"config": {"Cmd": "ls"}}, {"rootfs": {"diff_ids": ["nope"]}}, {"config": []}, {"os": 3}],
)
def test_malformed_configs_are_invalid(config: dict[str, Any]) -> None:
    with pytest.raises(ManifestInvalid):
        m.parse_config(raw(config))


def test_layer_compression_by_media_type() -> None:
    assert m.layer_compression(m.DOCKER_LAYER) == "gzip"
    assert m.layer_compression(m.OCI_LAYER_ZSTD) == "zstd"
    assert m.layer_compression(m.OCI_LAYER_TAR) == "none"
    with pytest.raises(UnsupportedMediaType):
        m.layer_compression("application/x-rar")
