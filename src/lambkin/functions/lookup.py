"""Reads the services share: a function, version or alias (else ResourceNotFound), RevisionId, markers."""

from __future__ import annotations

import base64

from lambkin.functions.errors import REVISION_MISMATCH, InvalidParameterValue, PreconditionFailed, not_found
from lambkin.functions.model import LATEST, Alias, FunctionRecord, FunctionVersion
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.store import Connection

DEFAULT_PAGE = 50


def encode_marker(name: str, number: int) -> str:
    return base64.urlsafe_b64encode(f"{number}:{name}".encode()).decode()


def decode_marker(marker: str | None) -> tuple[str, int] | None:
    if not marker:
        return None
    try:
        number, _, name = base64.urlsafe_b64decode(marker.encode()).decode().partition(":")
        return name, int(number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterValue(f"Invalid marker: {marker}") from exc


class Lookup:
    """Reads shared by the services: a function, a version, an alias, each or ResourceNotFoundException."""

    def __init__(self, arns: Arns, repo: FunctionRepository) -> None:
        self.arns = arns
        self.repo = repo

    def record(self, conn: Connection, name: str) -> FunctionRecord:
        record = self.repo.record(conn, name)
        if record is None:
            raise not_found(self.arns.function(name))
        return record

    def latest(self, conn: Connection, name: str) -> FunctionVersion:
        version = self.repo.version(conn, name, LATEST)
        if version is None:
            raise not_found(self.arns.function(name))
        return version

    def qualified(self, conn: Connection, ref: FunctionRef) -> tuple[FunctionVersion, Alias | None]:
        """The version `ref` names, and the alias it went through if any."""
        if ref.qualifier is None or ref.qualifier == LATEST:
            return self.latest(conn, ref.name), None
        if ref.qualifier.isdigit():
            version = self.repo.version(conn, ref.name, ref.qualifier)
            if version is None:
                raise not_found(self.arns.of(ref))
            return version, None
        alias = self.repo.alias(conn, ref.name, ref.qualifier)
        if alias is None:
            raise not_found(self.arns.of(ref))
        version = self.repo.version(conn, ref.name, alias.function_version)
        if version is None:
            raise not_found(self.arns.of(ref))
        return version, alias


def check_revision(expected: str | None, actual: str) -> None:
    if expected and expected != actual:
        raise PreconditionFailed(REVISION_MISMATCH)
