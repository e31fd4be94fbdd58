"""CloudWatch's errors, by the names of its model's error shapes (the gateway gives each its wire code)."""

from __future__ import annotations


class MetricsError(Exception):
    code = "InvalidParameterValueException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameterValue(MetricsError):
    code = "InvalidParameterValueException"


class InvalidParameterCombination(MetricsError):
    code = "InvalidParameterCombinationException"


class MissingParameter(MetricsError):
    code = "MissingRequiredParameterException"


class InvalidNextToken(MetricsError):
    code = "InvalidNextToken"
