"""The server's access key pair: who may sign a request as the account root, and log in to the registry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    """The server's access key pair: SigV4 for the AWS APIs, basic auth for the registry.

    Functions never see it: each environment gets temporary credentials of its function's execution role
    (identity/function_credentials.py), sealed with this secret (identity/sessions.py).
    """

    access_key_id: str
    secret_access_key: str
