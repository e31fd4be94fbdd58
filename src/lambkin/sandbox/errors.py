"""The sandbox part's one error type: infrastructure failures from runc and the kernel.

SandboxError        -- anything below went wrong; the message says what, `__cause__` says why
"""

from __future__ import annotations


class SandboxError(Exception):
    """Creating, starting, signalling or removing a sandbox failed (runc, mounts, cgroups, namespaces)."""
