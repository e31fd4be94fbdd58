"""Fake image parts for unit tests: an ImageSource for the environments part, an ImageResolver for functions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FakeImageConfig:
    """What Lambda honours of an image's config (environments.ports.ImageConfigView)."""

    entrypoint: tuple[str, ...] = ("/lambda-entrypoint.sh",)
    cmd: tuple[str, ...] = ("app.handler",)
    working_dir: str = "/var/task"
    env: tuple[str, ...] = ("PATH=/var/lang/bin:/usr/bin", "IMAGE_ONLY=1", "AWS_REGION=nope")


@dataclass(frozen=True)
class FakePreparedImage:
    """An image "ready to run" (environments.ports.PreparedImage): a config and layer paths nobody reads."""

    config: FakeImageConfig = FakeImageConfig()
    lower_dirs: tuple[Path, ...] = (Path("/layers/top"), Path("/layers/base"))
    resolve_ms: float = 0.0
    unpack_ms: float = 0.0


class FakeImageSource:
    """An ImageSource that prepares every image at once; `prepared` lists the URIs asked for, in order."""

    def __init__(self) -> None:
        self.prepared: list[str] = []

    async def prepare(self, image_uri: str) -> FakePreparedImage:
        self.prepared.append(image_uri)
        return FakePreparedImage()


@dataclass(frozen=True)
class ResolvedImage:
    digest: str
    resolved_uri: str
    code_size: int


class FakeImageResolver:
    """The control plane's ImageResolver (functions.worker): `tags` map image URIs to digests; anything
    else is unknown (a LookupError, which the worker reads as a deleted image)."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}

    async def resolve(self, image_uri: str, architecture: str | None = None) -> ResolvedImage:
        if image_uri not in self.tags:
            raise LookupError(f"manifest unknown: {image_uri}")
        digest = self.tags[image_uri]
        return ResolvedImage(digest, image_uri.rsplit(":", 1)[0] + "@" + digest, 1234)

    async def prepare(self, resolved: Any) -> None:
        return None
