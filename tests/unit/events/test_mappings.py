"""The mapping model: the state table denies by default, Lambda's batch and visibility checks, round trips."""

from __future__ import annotations

import pytest

from lambkin.events.errors import InvalidParameterValue
from lambkin.events.mappings import (
    InvalidStateTransition,
    Mapping,
    MappingState,
    check_settings,
    check_unsupported,
    check_visibility,
    settled,
    transition,
)

S = MappingState
ALLOWED = {
    (S.CREATING, S.ENABLED), (S.CREATING, S.DISABLED), (S.CREATING, S.DELETING),
    (S.ENABLING, S.ENABLED), (S.ENABLING, S.DELETING),
    (S.ENABLED, S.UPDATING), (S.ENABLED, S.DISABLING), (S.ENABLED, S.DISABLED), (S.ENABLED, S.DELETING),
    (S.UPDATING, S.ENABLED), (S.UPDATING, S.DISABLED), (S.UPDATING, S.DELETING),
    (S.DISABLING, S.DISABLED), (S.DISABLING, S.DELETING),
    (S.DISABLED, S.ENABLING), (S.DISABLED, S.UPDATING), (S.DISABLED, S.DELETING),
}  # fmt: skip


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_move_not_in_the_table_is_denied(current: MappingState, target: MappingState) -> None:
    if (current, target) in ALLOWED:
        assert transition(current, target) is target
    else:
        with pytest.raises(InvalidStateTransition):
            transition(current, target)


def test_deleting_is_final_and_settled_follows_enabled() -> None:
    assert all(current is not S.DELETING for current, _ in ALLOWED)
    assert settled(True) is S.ENABLED
    assert settled(False) is S.DISABLED


@pytest.mark.parametrize(
    ("batch", "window", "fifo", "message"),
    [
        (11, 0, False, "greater than 0 if maximum batch size is greater than 10"),
        (10_001, 1, False, "between 1 and 10000"),
        (0, 0, False, "between 1 and 10000"),
        (10, 301, False, "between 0 and 300"),
        (11, 1, True, "FIFO"),
        (10, 1, True, "Batching window is not supported for FIFO"),
    ],
)
def test_batch_settings_are_checked_as_lambda_does(batch: int, window: int, fifo: bool, message: str) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        check_settings(batch, window, fifo, [])


def test_valid_settings_pass() -> None:
    check_settings(10_000, 1, False, ["ReportBatchItemFailures"])
    check_settings(10, 0, True, [])
    check_settings(1, 300, False, [])
    with pytest.raises(InvalidParameterValue, match="FunctionResponseType"):
        check_settings(1, 0, False, ["Other"])


def test_visibility_timeout_must_cover_the_function_timeout() -> None:
    check_visibility(30, 30)
    with pytest.raises(InvalidParameterValue) as exc:
        check_visibility(30, 60)
    assert (
        exc.value.message == "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
    )


def test_stream_only_parameters_are_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="Unsupported StartingPosition parameter"):
        check_unsupported({"StartingPosition": "LATEST"})
    with pytest.raises(InvalidParameterValue, match="FilterCriteria"):
        check_unsupported({"FilterCriteria": {"Filters": []}})
    check_unsupported({"BatchSize": 10, "StartingPosition": None})


def test_a_mapping_round_trips_through_its_encoding() -> None:
    mapping = Mapping(
        uuid="u-1", event_source_arn="arn:aws:sqs:us-east-1:1:q", queue="q", function="f", qualifier="live",
        function_arn="arn:aws:lambda:us-east-1:1:function:f:live", batch_size=5, window_s=2,
        report_failures=True, max_concurrency=7, enabled=False, state=S.DISABLED, last_modified=12.5,
    )  # fmt: skip
    assert Mapping.decode("u-1", mapping.encode()) == mapping
