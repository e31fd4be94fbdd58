"""The sandbox part's one error type: infrastructure failures from runc and the kernel.

SandboxError        -- anything below went wrong; the message says what, `__cause__` says why
  ProcessNotStarted -- the sandbox's process could not be executed (missing, not executable): the image's
                       fault, not lambkin's (Lambda's Runtime.InvalidEntrypoint)
"""

from __future__ import annotations


class SandboxError(Exception):
    """Creating, starting, signalling or removing a sandbox failed (runc, mounts, cgroups, namespaces)."""


class ProcessNotStarted(SandboxError):
    """The sandbox's process could not be executed: `path` is missing, not executable, not a program."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"exec {path}: {reason}")
        self.path = path
        self.reason = reason

    def describe(self) -> str:
        """Lambda's wording, e.g. "fork/exec /var/task/bootstrap: permission denied"."""
        return f"fork/exec {self.path}: {self.reason}"
