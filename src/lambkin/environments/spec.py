"""The sandbox spec of one environment: process, working directory and environment variables as Lambda sets them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambkin.environments.ports import ImageConfigView, VersionConfig
from lambkin.sandbox.spec import SandboxSpec

RUNTIME_API_ADDRESS = "127.0.0.1:9001"

# Unreserved defaults: an image's ENV or the function's Environment may replace them.
DEFAULT_ENV: tuple[tuple[str, str], ...] = (
    ("LANG", "en_US.UTF-8"),
    ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin"),
    (
        "LD_LIBRARY_PATH",
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    ),
)


class InvalidImageConfig(Exception):
    """The image and its overrides name nothing to run (Runtime.InvalidEntrypoint)."""


@dataclass(frozen=True)
class Placement:
    """Where an environment runs: its id, log stream and the server's region."""

    env_id: str
    log_stream: str
    region: str


def reserved_env(version: VersionConfig, placement: Placement) -> dict[str, str]:
    """Variables Lambda sets itself; they win over the image's and the function's."""
    return {
        "AWS_LAMBDA_RUNTIME_API": RUNTIME_API_ADDRESS,
        "AWS_LAMBDA_FUNCTION_NAME": version.name,
        "AWS_LAMBDA_FUNCTION_VERSION": version.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(version.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": version.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": placement.log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": placement.region,
        "AWS_DEFAULT_REGION": placement.region,
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
    }


def merged_env(version: VersionConfig, image: ImageConfigView, placement: Placement) -> dict[str, str]:
    """Defaults, then the image's ENV, then the function's Environment, then the reserved variables."""
    env = dict(DEFAULT_ENV)
    for item in image.env:
        key, sep, value = item.partition("=")
        if sep:
            env[key] = value
    env.update(version.environment)
    env.update(reserved_env(version, placement))
    return env


def process_args(version: VersionConfig, image: ImageConfigView) -> tuple[str, ...]:
    """ImageConfig EntryPoint and Command replace the image's ENTRYPOINT and CMD."""
    entrypoint = version.entry_point if version.entry_point is not None else image.entrypoint
    command = version.command if version.command is not None else image.cmd
    args = tuple(entrypoint) + tuple(command)
    if not args:
        raise InvalidImageConfig("the image has no ENTRYPOINT or CMD and the function overrides neither")
    return args


def sandbox_spec(
    version: VersionConfig,
    image: ImageConfigView,
    lower_dirs: Sequence[Path],
    placement: Placement,
    credentials: Mapping[str, str],
) -> SandboxSpec:
    """The spec of one environment; its AWS credentials (the execution role's session) are reserved too."""
    cwd = version.working_directory or image.working_dir or "/"
    env = merged_env(version, image, placement)
    env.update(credentials)
    return SandboxSpec(
        id=placement.env_id,
        lower_dirs=tuple(lower_dirs),
        args=process_args(version, image),
        env=tuple(env.items()),
        cwd=cwd,
        memory_mb=version.memory_size,
        tmp_size_mb=version.ephemeral_storage,
        init_cpu_boost=True,
        security_groups=version.vpc_security_group_ids,
    )
