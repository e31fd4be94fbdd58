"""The store's errors: what a unit of work or the start-up can fail with, whichever engine is behind it.

    Exception
    └── StoreError
        ├── Conflict              a unique or primary-key constraint refused a write (the caller's to word)
        ├── StorageFull           domain error ServiceUnavailable (503): no room left, nothing was changed
        ├── StoreUnavailable      domain error ServiceUnavailable (503): the database cannot be reached now
        ├── DamagedDatabase       start-up: an SQLite file that is not the database it should be
        ├── SchemaTooNew          start-up: the database has a migration this code does not know
        └── DatabaseUnreachable   start-up: wrong URL, password or host; the server stops with one line

StorageFull and StoreUnavailable are domain errors (protocol/errors.py) with code "ServiceUnavailable":
every service answers them as its own retryable server fault (`protocol/dialect.unavailable`).
"""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """A fault of the store itself, not of the unit of work's logic."""


class Conflict(StoreError):
    """A write a unique or primary-key constraint refused; the transaction was rolled back."""


class StorageFull(StoreError):
    """A write the disk had no room for: the transaction was rolled back, nothing changed, a retry may pass."""

    code = "ServiceUnavailable"
    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def file(cls, path: Path) -> StorageFull:
        """SQLite's file on a full disk."""
        return cls(
            f"The disk holding {path.parent} is full: {path.name} could not be written, and nothing was "
            "changed. Retry once space is freed on that disk."
        )


class StoreUnavailable(StoreError):
    """The database could not be reached (down, restarting, connection lost): the unit of work was rolled
    back or never began (a connection lost during COMMIT leaves it unknown: the client's retry may repeat it,
    at least once), and a retry once the database is back may pass."""

    code = "ServiceUnavailable"
    status = 503

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = (
            f"lambkin's database is unreachable ({reason}), so this request was not completed. Retry shortly."
        )
        super().__init__(self.message)


class DamagedDatabase(StoreError):
    """A database file SQLite cannot read as the database it should be: which file, and how to recover."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path} is damaged ({reason}), so lambkin cannot start on it. To recover, stop lambkin and either "
            f"restore the file from a backup, or move it aside (with its -wal and -shm files, if any) so that "
            f"lambkin starts on a new, empty one; `sqlite3 {path} .recover` may save what is still readable."
        )
        self.path = path


class SchemaTooNew(StoreError):
    """The database was migrated by a newer lambkin: starting on it could corrupt what that version wrote."""

    def __init__(self, namespace: str, version: int, known: int) -> None:
        super().__init__(
            f"The database's schema is newer than this lambkin: it has step {version} of {namespace!r}, "
            f"this version knows steps up to {known}. Run the newer lambkin, or restore a backup made for this one."
        )


class DatabaseUnreachable(StoreError):
    """The database named at start-up cannot be used (bad URL, host down, password refused)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"Cannot use the database {where}: {reason}")


def fatal(exc: BaseException) -> bool:
    """Whether the transaction cannot go on after `exc` (a full disk, a lost connection): a unit of work
    that catches errors of its own statements (the queue journal's savepoints) must let these through."""
    if isinstance(exc, StorageFull | StoreUnavailable):
        return True
    cause: BaseException | None = exc
    while cause is not None:  # SQLite's own error inside a unit of work: SQLITE_FULL rolled it all back
        if getattr(cause, "sqlite_errorname", None) == "SQLITE_FULL":
            return True
        cause = cause.__context__
    return False
