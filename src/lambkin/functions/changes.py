"""Pure decisions on a function's configuration: apply a validated change, start a code update, publish."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lambkin.functions import validation
from lambkin.functions.model import FunctionRecord, FunctionVersion, ResolvedCode, VpcChange, ZipCode
from lambkin.functions.states import State, UpdateStatus, transition, update_transition


@dataclass(frozen=True)
class ImageConfig:
    """ImageConfig as given: each member None means "use the image's own"."""

    entry_point: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    working_directory: str | None = None


@dataclass(frozen=True)
class ConfigChange:
    """The members of CreateFunction / UpdateFunctionConfiguration that were given (None: leave as is)."""

    role: str | None = None
    description: str | None = None
    memory_size: int | None = None
    timeout: int | None = None
    environment: Mapping[str, str] | None = None
    image_config: ImageConfig | None = None
    ephemeral_storage: int | None = None
    tracing_mode: str | None = None
    dead_letter_target_arn: str | None = None
    kms_key_arn: str | None = None
    logging: Mapping[str, str] | None = None
    vpc: VpcChange | None = None


def new_revision() -> str:
    return str(uuid.uuid4())


def timestamp(now: float) -> str:
    """Lambda's LastModified form: 2024-01-31T12:34:56.789+0000."""
    moment = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def apply_change(version: FunctionVersion, change: ConfigChange, now: float) -> FunctionVersion:
    """`version` with `change` validated and applied, a new RevisionId and LastModified."""
    updates: dict[str, object] = {}
    if change.role is not None:
        updates["role"] = change.role
    if change.description is not None:
        updates["description"] = change.description
    if change.memory_size is not None:
        updates["memory_size"] = validation.check_memory_size(change.memory_size)
    if change.timeout is not None:
        updates["timeout"] = validation.check_timeout(change.timeout)
    if change.environment is not None:
        updates["environment"] = MappingProxyType(validation.check_environment(change.environment))
    if change.image_config is not None:
        updates["entry_point"] = change.image_config.entry_point
        updates["command"] = change.image_config.command
        updates["working_directory"] = change.image_config.working_directory
    if change.ephemeral_storage is not None:
        updates["ephemeral_storage"] = validation.check_ephemeral_storage(change.ephemeral_storage)
    if change.tracing_mode is not None:
        updates["tracing_mode"] = change.tracing_mode
    if change.dead_letter_target_arn is not None:
        updates["dead_letter_target_arn"] = change.dead_letter_target_arn or None
    if change.kms_key_arn is not None:
        updates["kms_key_arn"] = change.kms_key_arn or None
    if change.logging is not None:
        logging = change.logging
        updates["log_format"] = logging.get("LogFormat", version.log_format)
        updates["log_group"] = logging.get("LogGroup", version.log_group)
        updates["application_log_level"] = logging.get("ApplicationLogLevel", version.application_log_level)
        updates["system_log_level"] = logging.get("SystemLogLevel", version.system_log_level)
    if change.vpc is not None:
        updates["vpc_subnet_ids"] = change.vpc.subnet_ids
        updates["vpc_security_group_ids"] = change.vpc.security_group_ids
        updates["vpc_id"] = change.vpc.vpc_id
        updates["vpc_ipv6_allowed"] = change.vpc.ipv6_allowed
    return dataclasses.replace(version, **updates, revision_id=new_revision(), last_modified=timestamp(now))  # type: ignore[arg-type]


def start_code_update(
    version: FunctionVersion, image_uri: str, now: float, zip_code: ZipCode | None = None
) -> FunctionVersion:
    """$LATEST with a new image to resolve: InProgress (and Pending again if it had Failed). A zip
    function's new package is reported (CodeSha256, CodeSize) from now on."""
    update = update_transition(version.last_update_status, UpdateStatus.IN_PROGRESS)
    if zip_code is not None:
        version = dataclasses.replace(version, **zip_code.fields())  # type: ignore[arg-type]
    if version.state is State.FAILED:
        return dataclasses.replace(
            version,
            image_uri=image_uri,
            state=transition(version.state, State.PENDING),
            state_reason="The function is being created.",
            state_reason_code="Creating",
            last_update_status=update,
            last_update_status_reason=None,
            last_update_status_reason_code=None,
            pending_image_uri=None,
            revision_id=new_revision(),
            last_modified=timestamp(now),
        )
    return dataclasses.replace(
        version,
        last_update_status=update,
        last_update_status_reason=None,
        last_update_status_reason_code=None,
        pending_image_uri=image_uri,
        revision_id=new_revision(),
        last_modified=timestamp(now),
    )


def work_image(version: FunctionVersion) -> str:
    """The image reference the background work for `version` has to resolve."""
    return version.pending_image_uri or version.image_uri


def code_resolved(version: FunctionVersion, code: ResolvedCode) -> FunctionVersion:
    """The version once its image resolved and unpacked: Active, update Successful. A zip function keeps
    its zip's CodeSha256 and CodeSize."""
    state = transition(version.state, State.ACTIVE) if version.state is State.PENDING else version.state
    return dataclasses.replace(
        version,
        image_uri=code.image_uri,
        resolved_image_uri=code.resolved_image_uri,
        image_digest=code.image_digest,
        code_sha256=version.code_sha256 if version.is_zip else code.code_sha256,
        code_size=version.code_size if version.is_zip else code.code_size,
        pending_image_uri=None,
        state=state,
        state_reason=None if state is State.ACTIVE else version.state_reason,
        state_reason_code=None if state is State.ACTIVE else version.state_reason_code,
        last_update_status=update_transition(version.last_update_status, UpdateStatus.SUCCESSFUL),
        revision_id=new_revision(),
    )


def code_failed(version: FunctionVersion, reason_code: str, reason: str) -> FunctionVersion:
    """The version once its image could not be resolved: Failed if it was Pending; update Failed."""
    pending = version.state is State.PENDING
    return dataclasses.replace(
        version,
        pending_image_uri=None,
        state=transition(version.state, State.FAILED) if pending else version.state,
        state_reason=reason if pending else version.state_reason,
        state_reason_code=reason_code if pending else version.state_reason_code,
        last_update_status=update_transition(version.last_update_status, UpdateStatus.FAILED),
        last_update_status_reason=reason,
        last_update_status_reason_code=reason_code,
        revision_id=new_revision(),
    )


def published(
    latest: FunctionVersion, record: FunctionRecord, description: str | None, now: float
) -> FunctionVersion:
    """Version `record.last_version + 1`, a frozen copy of $LATEST."""
    return dataclasses.replace(
        latest,
        version=str(record.last_version + 1),
        description=latest.description if description is None else description,
        revision_id=new_revision(),
        last_modified=timestamp(now),
    )
