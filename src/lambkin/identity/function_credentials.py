"""A function's credentials: each new environment gets a session of the function's execution role, named
after the function, as Lambda gives it (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)."""

from __future__ import annotations

from typing import Protocol

from lambkin.identity.directory import Directory
from lambkin.identity.execution_roles import lambda_can_assume
from lambkin.identity.sts import Sts

LONGEST_INVOCATION_S = 900  # Lambda's maximum Timeout: an environment's last invocation ends by then
SLACK_S = 300


class FunctionVersion(Protocol):
    """What the credentials need of a function version (environments.ports.VersionConfig has it)."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...


class RoleNotAssumable(Exception):
    """Lambda cannot assume the function's role (deleted, or it no longer trusts lambda.amazonaws.com): the
    invocation that needed an environment fails with Lambda's error for it (a DomainError)."""

    code = "InvalidParameterValueException"

    def __init__(self) -> None:
        self.message = "The role defined for the function cannot be assumed by Lambda."
        super().__init__(self.message)


class FunctionCredentials:
    """A CredentialSource (environments/ports.py) over IAM's directory and STS.

    An environment lives at most `environment_max_age_s` (the pools retire it then), so its credentials
    last that long plus the longest invocation and some slack: they never expire under a running
    function, and a new environment gets new ones ("refreshed before they expire").
    """

    def __init__(self, directory: Directory, sts: Sts, environment_max_age_s: float) -> None:
        self.directory = directory
        self.sts = sts
        self.may_assume = lambda_can_assume(directory)
        self.lifetime_s = int(environment_max_age_s) + LONGEST_INVOCATION_S + SLACK_S

    def __call__(self, version: FunctionVersion) -> dict[str, str]:
        role = self.directory.role(version.role)
        if role is None or not self.may_assume(role.arn):
            raise RoleNotAssumable()
        issued = self.sts.session(role, version.name, self.lifetime_s)
        return {
            "AWS_ACCESS_KEY_ID": issued.access_key_id,
            "AWS_SECRET_ACCESS_KEY": issued.secret_access_key,
            "AWS_SESSION_TOKEN": issued.session_token,
        }
