"""The control plane's domain objects: a function version's configuration, an alias, a function's own record."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from lambkin.functions.states import State, UpdateStatus

LATEST = "$LATEST"
DEFAULT_MEMORY_SIZE = 128
DEFAULT_TIMEOUT = 3
DEFAULT_EPHEMERAL_STORAGE = 512
DEFAULT_ARCHITECTURES = ("x86_64",)

_EMPTY: Mapping[str, str] = MappingProxyType({})

T = TypeVar("T")


@dataclass(frozen=True)
class FunctionVersion:
    """One version of one function ($LATEST or a published number): what to run and how.

    Image fields: `image_uri` is what the user asked for (maybe a tag), `resolved_image_uri` the same image
    pinned by digest (`repo@sha256:...`), `image_digest` the manifest digest and `code_sha256` its hex, as
    Lambda reports it. They are None/"" while the function is Pending. `pending_image_uri` is a code update
    that is being resolved (LastUpdateStatus InProgress); until it succeeds, invokes run the current image.
    `entry_point`, `command` and `working_directory` override the image's own config when not None.
    """

    name: str
    function_arn: str
    version: str
    role: str
    image_uri: str
    memory_size: int = DEFAULT_MEMORY_SIZE
    timeout: int = DEFAULT_TIMEOUT
    environment: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    description: str = ""
    resolved_image_uri: str | None = None
    image_digest: str | None = None
    code_sha256: str = ""
    code_size: int = 0
    entry_point: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_directory: str | None = None
    ephemeral_storage: int = DEFAULT_EPHEMERAL_STORAGE
    architectures: tuple[str, ...] = DEFAULT_ARCHITECTURES
    revision_id: str = ""
    last_modified: str = ""
    state: State = State.PENDING
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: UpdateStatus = UpdateStatus.IN_PROGRESS
    last_update_status_reason: str | None = None
    last_update_status_reason_code: str | None = None
    pending_image_uri: str | None = None
    reserved_concurrency: int | None = None
    tracing_mode: str = "PassThrough"
    dead_letter_target_arn: str | None = None
    kms_key_arn: str | None = None
    log_format: str = "Text"
    log_group: str | None = None
    application_log_level: str | None = None
    system_log_level: str | None = None
    # VpcConfig: the subnets and security groups (empty: not in a VPC), their VPC, and dual-stack IPv6.
    vpc_subnet_ids: tuple[str, ...] = ()
    vpc_security_group_ids: tuple[str, ...] = ()
    vpc_id: str = ""
    vpc_ipv6_allowed: bool = False
    # Zip functions (PackageType Zip): `image_uri` is the image lambkin composed (runtime, layers, code);
    # CodeSha256/CodeSize are the zip's; `package_digest` the stored zip's blob, `code_layer` its tar layer.
    package_type: str = "Image"
    runtime: str | None = None
    handler: str | None = None
    layers: tuple[str, ...] = ()  # layer version ARNs, in order
    layer_sizes: tuple[int, ...] = ()  # each one's CodeSize
    package_digest: str = ""
    code_layer: str = ""
    code_layer_size: int = 0

    @property
    def is_zip(self) -> bool:
        return self.package_type == "Zip"

    @property
    def is_latest(self) -> bool:
        return self.version == LATEST

    @property
    def qualified_arn(self) -> str:
        return f"{self.function_arn}:{self.version}"

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    def publishable_fingerprint(self) -> tuple[object, ...]:
        """What a published version freezes: equal fingerprints mean PublishVersion has nothing new."""
        return (
            self.code_sha256,
            self.role,
            self.memory_size,
            self.timeout,
            tuple(sorted(self.environment.items())),
            self.entry_point,
            self.command,
            self.working_directory,
            self.ephemeral_storage,
            self.architectures,
            self.tracing_mode,
            self.dead_letter_target_arn,
            self.kms_key_arn,
            self.log_format,
            self.log_group,
            self.application_log_level,
            self.system_log_level,
            self.vpc_subnet_ids,
            self.vpc_security_group_ids,
            self.vpc_ipv6_allowed,
            self.image_uri if self.is_zip else None,  # a zip's runtime and layers: its composed image
            self.handler,
        )


@dataclass(frozen=True)
class VpcChange:
    """VpcConfig as given (empty lists detach the function); `vpc_id` is found by `validation.check_vpc`."""

    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    ipv6_allowed: bool = False
    vpc_id: str = ""


@dataclass(frozen=True)
class Alias:
    """A named pointer to a version, optionally sending a share of invokes to one more version."""

    function_name: str
    name: str
    alias_arn: str
    function_version: str
    description: str = ""
    additional_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    revision_id: str = ""


@dataclass(frozen=True)
class FunctionRecord:
    """What belongs to the function as a whole rather than to one version."""

    name: str
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    reserved_concurrency: int | None = None
    last_version: int = 0
    publish_after_update: bool = False
    publish_description: str = ""


@dataclass(frozen=True)
class ResolvedCode:
    """The outcome of resolving an image reference: what a version runs once it is Active."""

    image_uri: str
    resolved_image_uri: str
    image_digest: str
    code_sha256: str
    code_size: int


@dataclass(frozen=True)
class ZipCode:
    """A zip function's code as stored: the image composed for it, and what Lambda reports of the zip."""

    image_uri: str
    code_sha256: str  # base64 of the zip's SHA-256, as Lambda reports it
    code_size: int
    package_digest: str
    code_layer: str
    code_layer_size: int
    runtime: str
    handler: str | None
    layers: tuple[str, ...] = ()
    layer_sizes: tuple[int, ...] = ()

    def fields(self) -> dict[str, object]:
        """The FunctionVersion fields it sets."""
        return {
            "package_type": "Zip",
            "code_sha256": self.code_sha256,
            "code_size": self.code_size,
            "package_digest": self.package_digest,
            "code_layer": self.code_layer,
            "code_layer_size": self.code_layer_size,
            "runtime": self.runtime,
            "handler": self.handler,
            "layers": self.layers,
            "layer_sizes": self.layer_sizes,
        }


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the marker of the next one, if any."""

    items: tuple[T, ...]
    next_marker: str | None = None

    @classmethod
    def of(cls, rows: Sequence[T], limit: int, marker: Callable[[T], str]) -> Page[T]:
        """The first `limit` of `rows`, read one past the page to know whether another follows; `marker`
        names the next page after its last item."""
        if len(rows) <= limit:
            return cls(tuple(rows))
        return cls(tuple(rows[:limit]), marker(rows[limit - 1]))
