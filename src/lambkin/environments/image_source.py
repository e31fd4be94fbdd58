"""Adapts the image service (resolve a URI, unpack its layers) to the one call environments make: prepare(uri)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from lambkin.environments.ports import ImageConfigView


class _Resolved(Protocol):
    @property
    def config(self) -> ImageConfigView: ...


R = TypeVar("R", bound=_Resolved)


class ImageResolver(Protocol[R]):
    """images.service.ImageService, as far as environments use it."""

    async def resolve(self, image_uri: str) -> R: ...

    async def prepare(self, image: R) -> Sequence[Path]: ...


@dataclass(frozen=True)
class Prepared:
    config: ImageConfigView
    lower_dirs: tuple[Path, ...]
    resolve_ms: float
    unpack_ms: float


class ResolvingImageSource(Generic[R]):
    """Resolves the (digest-pinned) URI and unpacks its layers; both are cached by the image service."""

    def __init__(self, images: ImageResolver[R]) -> None:
        self.images = images

    async def prepare(self, image_uri: str) -> Prepared:
        """The image, and how long each of its two steps took."""
        started = time.monotonic()
        resolved = await self.images.resolve(image_uri)
        resolved_at = time.monotonic()
        lower_dirs = await self.images.prepare(resolved)
        unpacked_at = time.monotonic()
        return Prepared(
            resolved.config,
            tuple(lower_dirs),
            (resolved_at - started) * 1000,
            (unpacked_at - resolved_at) * 1000,
        )
