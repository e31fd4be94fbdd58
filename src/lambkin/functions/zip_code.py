"""A zip function's code from CreateFunction / UpdateFunctionCode: checked, stored, and composed into its image."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lambkin.functions.errors import FunctionsError, InvalidParameterValue
from lambkin.functions.model import FunctionVersion, ZipCode
from lambkin.runtimes.catalog import RuntimeNotAvailable
from lambkin.runtimes.packages import UNZIPPED_LIMIT, ZIPPED_LIMIT, PackageRejected, PackageTooLarge
from lambkin.runtimes.zip_images import TASK_ROOT, PackageImages

MAX_LAYERS = 5
UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
NEEDS_RUNTIME = "Runtime and Handler are mandatory parameters for functions created with deployment packages."
TOO_LARGE_UNZIPPED = f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"
NO_S3 = (
    "lambkin has no S3-compatible code source: Code.S3Bucket, S3Key and S3ObjectVersion are not supported. "
    "Upload the .zip package itself as ZipFile (up to 50 MB zipped)."
)


class PackageTooLargeToUpload(FunctionsError):
    """A zip past Lambda's direct upload limit (413)."""

    code = "RequestEntityTooLargeException"
    status = 413


@dataclass(frozen=True)
class LayerContent:
    """A layer version as a function uses it: its ARN, CodeSize, tar layer and unzipped size."""

    arn: str
    code_size: int
    layer_digest: str
    layer_size: int
    unzipped_size: int


class LayerLookup(Protocol):
    """Finds the layer versions a function names (raises the layers' domain errors)."""

    async def contents(self, arns: Sequence[str]) -> list[LayerContent]: ...


def code_sha256(hex_digest: str) -> str:
    """Lambda's CodeSha256 of a zip: the base64 of its SHA-256."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def rejected(exc: PackageRejected) -> InvalidParameterValue:
    """A package the checks refused, as Lambda words it (the reason appended)."""
    if isinstance(exc, PackageTooLarge):
        return InvalidParameterValue(str(exc))
    return InvalidParameterValue(f"{UNZIP_FAILED} ({exc})")


def check_zipped_size(data: bytes) -> None:
    if len(data) > ZIPPED_LIMIT:
        raise PackageTooLargeToUpload(f"Zipped size must be smaller than {ZIPPED_LIMIT} bytes")


class ZipFunctions:
    """Turns a zip, a runtime, a handler and layers into a zip function's `ZipCode`."""

    def __init__(self, packages: PackageImages, layers: LayerLookup | None = None) -> None:
        self.packages = packages
        self.layers = layers

    def check_runtime(self, runtime: str | None, handler: str | None) -> str:
        if not runtime or not handler:
            raise InvalidParameterValue(NEEDS_RUNTIME)
        available = self.packages.runtimes.names()
        if self.packages.runtimes.deprecated(runtime) or runtime not in available:
            raise InvalidParameterValue(RuntimeNotAvailable(runtime, available).message)
        return runtime

    async def build(
        self,
        data: bytes,
        runtime: str,
        handler: str | None,
        layer_arns: Sequence[str],
        architecture: str | None,
    ) -> ZipCode:
        """Stores the package and composes the function's image; raises the API's errors."""
        check_zipped_size(data)
        layers = await self._layers(layer_arns)
        budget = UNZIPPED_LIMIT - sum(layer.unzipped_size for layer in layers)
        try:
            stored = await self.packages.store(data, TASK_ROOT, budget if budget > 0 else 1)
        except PackageTooLarge:
            raise InvalidParameterValue(TOO_LARGE_UNZIPPED) from None
        except PackageRejected as exc:
            raise rejected(exc) from exc
        image_uri = await self._image(
            runtime, handler, layers, (stored.layer_digest, stored.layer_size), architecture
        )
        return ZipCode(
            image_uri=image_uri,
            code_sha256=code_sha256(stored.sha256_hex),
            code_size=stored.size,
            package_digest=stored.zip_digest,
            code_layer=stored.layer_digest,
            code_layer_size=stored.layer_size,
            runtime=runtime,
            handler=handler,
            layers=tuple(layer.arn for layer in layers),
            layer_sizes=tuple(layer.code_size for layer in layers),
        )

    async def recompose(
        self,
        current: FunctionVersion,
        runtime: str | None,
        handler: str | None,
        layer_arns: Sequence[str] | None,
    ) -> ZipCode:
        """The code of a zip function whose Runtime, Handler or Layers change (None: kept): the same package
        on the new runtime, with the new layers."""
        runtime = self.check_runtime(runtime or current.runtime, handler or current.handler)
        handler = handler or current.handler
        layers = await self._layers(current.layers if layer_arns is None else layer_arns)
        unzipped = sum(layer.unzipped_size for layer in layers)
        if unzipped >= UNZIPPED_LIMIT:
            raise InvalidParameterValue(TOO_LARGE_UNZIPPED)
        code_layer = (current.code_layer, current.code_layer_size)
        image_uri = await self._image(runtime, handler, layers, code_layer, current.architectures[0])
        return ZipCode(
            image_uri=image_uri,
            code_sha256=current.code_sha256,
            code_size=current.code_size,
            package_digest=current.package_digest,
            code_layer=current.code_layer,
            code_layer_size=current.code_layer_size,
            runtime=runtime,
            handler=handler,
            layers=tuple(layer.arn for layer in layers),
            layer_sizes=tuple(layer.code_size for layer in layers),
        )

    async def _image(
        self,
        runtime: str,
        handler: str | None,
        layers: Sequence[LayerContent],
        code_layer: tuple[str, int],
        architecture: str | None,
    ) -> str:
        """The function's image: the runtime's layers, then the layers' at /opt in order, then the code."""
        try:
            return await self.packages.compose(
                runtime,
                handler,
                [(layer.layer_digest, layer.layer_size) for layer in layers],
                code_layer,
                architecture,
            )
        except RuntimeNotAvailable as exc:
            raise InvalidParameterValue(exc.message) from exc

    async def _layers(self, arns: Sequence[str]) -> list[LayerContent]:
        if not arns:
            return []
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValue(f"Cannot reference more than {MAX_LAYERS} layers.")
        if self.layers is None:
            raise InvalidParameterValue("Layers are not available on this server.")
        return await self.layers.contents(arns)
