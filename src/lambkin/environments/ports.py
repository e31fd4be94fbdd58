"""The narrow interfaces the environments part needs from the parts beside it, declared here by their user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol


class VersionConfig(Protocol):
    """What an environment needs to know about the function version it runs (functions.FunctionVersion)."""

    @property
    def name(self) -> str: ...
    @property
    def function_arn(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def memory_size(self) -> int: ...
    @property
    def timeout(self) -> int: ...
    @property
    def environment(self) -> Mapping[str, str]: ...
    @property
    def image_uri(self) -> str: ...
    @property
    def resolved_image_uri(self) -> str | None: ...
    @property
    def code_sha256(self) -> str: ...
    @property
    def revision_id(self) -> str: ...
    @property
    def entry_point(self) -> tuple[str, ...] | None: ...
    @property
    def command(self) -> tuple[str, ...] | None: ...
    @property
    def working_directory(self) -> str | None: ...
    @property
    def ephemeral_storage(self) -> int: ...
    @property
    def log_group_name(self) -> str: ...
    @property
    def role(self) -> str: ...  # the execution role's ARN
    @property
    def vpc_security_group_ids(self) -> tuple[str, ...]: ...  # () outside a VPC


class ImageConfigView(Protocol):
    """The parts of an image's config that Lambda honours (images.manifests.ImageConfig)."""

    @property
    def entrypoint(self) -> tuple[str, ...]: ...
    @property
    def cmd(self) -> tuple[str, ...]: ...
    @property
    def working_dir(self) -> str: ...
    @property
    def env(self) -> tuple[str, ...]: ...


class PreparedImage(Protocol):
    """An image ready to run: its config and its unpacked layers, top-most first."""

    @property
    def config(self) -> ImageConfigView: ...
    @property
    def lower_dirs(self) -> Sequence[Path]: ...
    @property
    def resolve_ms(self) -> float: ...  # how long resolving its URI took (a cold start's first phase)
    @property
    def unpack_ms(self) -> float: ...  # how long unpacking its layers took (0 when they were unpacked)


class ImageSource(Protocol):
    """Turns a (digest-pinned) image URI into a PreparedImage; may pull and unpack on first use."""

    async def prepare(self, image_uri: str) -> PreparedImage: ...


class CredentialSource(Protocol):
    """The AWS credentials a new environment of a version gets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN), valid at least PoolSettings.max_age_s plus the longest invocation. Raising refuses
    the start: the invocation that waited for it fails with that error (a DomainError: the role cannot be
    assumed), not with a function error."""

    def __call__(self, version: VersionConfig) -> Mapping[str, str]: ...
