"""FakeVersion: a function version as the environments and invoke parts see it (environments.ports.VersionConfig)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FakeVersion:
    name: str = "fn"
    function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    version: str = "$LATEST"
    memory_size: int = 128
    timeout: int = 3
    environment: Mapping[str, str] = field(default_factory=dict)
    image_uri: str = "localhost/app:v1"
    resolved_image_uri: str | None = "localhost/app@sha256:aa"
    code_sha256: str = "aa"
    revision_id: str = "r1"
    entry_point: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_directory: str | None = None
    ephemeral_storage: int = 512
    reserved_concurrency: int | None = None
    role: str = "arn:aws:iam::000000000000:role/lambda-role"
    vpc_security_group_ids: tuple[str, ...] = ()

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.name}"
