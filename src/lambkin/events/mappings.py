"""Event source mappings: the frozen model, its state machine (deny by default), and Lambda's SQS checks."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from lambkin.events.errors import InvalidParameterValue

DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 10_000
FIFO_MAX_BATCH_SIZE = 10
MAX_WINDOW_S = 300
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
USER_INITIATED = "USER_INITIATED"
FUNCTION_GONE = "PROBLEM: Function not found."
QUEUE_GONE = "PROBLEM: The SQS queue does not exist."


class InvalidStateTransition(Exception):
    """A move that the mapping's state table does not allow."""


class MappingState(StrEnum):
    """`State` in EventSourceMappingConfiguration."""

    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"


_MOVES: dict[MappingState, frozenset[MappingState]] = {
    MappingState.CREATING: frozenset({MappingState.ENABLED, MappingState.DISABLED, MappingState.DELETING}),
    MappingState.ENABLING: frozenset({MappingState.ENABLED, MappingState.DELETING}),
    MappingState.ENABLED: frozenset(
        {MappingState.UPDATING, MappingState.DISABLING, MappingState.DISABLED, MappingState.DELETING}
    ),
    MappingState.UPDATING: frozenset({MappingState.ENABLED, MappingState.DISABLED, MappingState.DELETING}),
    MappingState.DISABLING: frozenset({MappingState.DISABLED, MappingState.DELETING}),
    MappingState.DISABLED: frozenset({MappingState.ENABLING, MappingState.UPDATING, MappingState.DELETING}),
    MappingState.DELETING: frozenset(),
}

# States a user may not change: the mapping is between two steady states (a restart finishes the step).
TRANSIENT = frozenset(
    {MappingState.CREATING, MappingState.ENABLING, MappingState.UPDATING, MappingState.DISABLING}
)


def transition(current: MappingState, target: MappingState) -> MappingState:
    """`target` if the table allows the move from `current`, else InvalidStateTransition."""
    if target not in _MOVES.get(current, frozenset()):
        raise InvalidStateTransition(f"event source mapping state {current} cannot become {target}")
    return target


def settled(enabled: bool) -> MappingState:
    """The steady state a transient one ends in (Deleting ends by removal)."""
    return MappingState.ENABLED if enabled else MappingState.DISABLED


@dataclass(frozen=True)
class Mapping:
    """One SQS event source mapping; `function_arn` carries the qualifier when one was given."""

    uuid: str
    event_source_arn: str
    queue: str
    function: str  # the function's name, for filtering and resolution
    qualifier: str | None
    function_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    window_s: int = 0
    report_failures: bool = False
    max_concurrency: int | None = None
    enabled: bool = True
    state: MappingState = MappingState.CREATING
    reason: str = USER_INITIATED
    last_modified: float = 0.0
    fifo: bool = False

    def encode(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "uuid"})

    @staticmethod
    def decode(uuid: str, text: str) -> Mapping:
        fields = json.loads(text)
        fields["state"] = MappingState(fields["state"])
        return Mapping(uuid=uuid, **fields)


def check_settings(batch_size: int, window_s: int, fifo: bool, response_types: list[str]) -> None:
    """Lambda's checks of an SQS mapping's batch settings (the model checks the plain ranges)."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidParameterValue(f"BatchSize must be between 1 and {MAX_BATCH_SIZE}.")
    if not 0 <= window_s <= MAX_WINDOW_S:
        raise InvalidParameterValue(f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_WINDOW_S}.")
    if fifo and batch_size > FIFO_MAX_BATCH_SIZE:
        raise InvalidParameterValue(
            f"BatchSize must be between 1 and {FIFO_MAX_BATCH_SIZE} for FIFO queues. Value: {batch_size}"
        )
    if fifo and window_s > 0:
        raise InvalidParameterValue("Batching window is not supported for FIFO queues.")
    if batch_size > DEFAULT_BATCH_SIZE and window_s < 1:
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    for kind in response_types:
        if kind != REPORT_BATCH_ITEM_FAILURES:
            raise InvalidParameterValue(f"Unsupported FunctionResponseType: {kind}")


def check_visibility(visibility_timeout: int, function_timeout: int) -> None:
    """A queue must hide a message at least as long as the function may run on it."""
    if visibility_timeout < function_timeout:
        raise InvalidParameterValue(
            f"Queue visibility timeout: {visibility_timeout} seconds is less than Function timeout: "
            f"{function_timeout} seconds"
        )


# Members of the request that mean nothing for an SQS source (streams, Kafka, MQ, DocumentDB).
UNSUPPORTED_FOR_SQS = (
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "ProvisionedPollerConfig",
)


def check_unsupported(params: dict[str, object]) -> None:
    for name in UNSUPPORTED_FOR_SQS:
        if params.get(name) is not None:
            raise InvalidParameterValue(f"Unsupported {name} parameter for given event source mapping type.")
    if params.get("FilterCriteria") is not None:
        raise InvalidParameterValue("FilterCriteria is not supported by lambkin's event source mappings.")
