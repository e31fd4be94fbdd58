"""The runc command line, run as asyncio subprocesses; its failures become SandboxError in one place."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

from lambkin.loop_cpu import unpinned
from lambkin.sandbox.errors import ProcessNotStarted, SandboxError

_ID = re.compile(r"^[A-Za-z0-9_+.-]{1,128}$")


def check_id(sandbox_id: str) -> None:
    if not _ID.match(sandbox_id) or sandbox_id in (".", ".."):
        raise SandboxError(f"invalid sandbox id {sandbox_id!r}: letters, digits and _+.- only, at most 128")


# runc's words when the process cannot be executed: `exec: "/path": stat /path: no such file or directory`,
# `exec: "/path": permission denied`, `exec: "name": executable file not found in $PATH`.
_EXEC_FAILED = re.compile(r'unable to start container process: exec: "(?P<path>[^"]*)": (?P<reason>.+)$')


def not_started_error(error: str) -> ProcessNotStarted | None:
    """The image's process could not be executed (rather than runc or the kernel failing), if so."""
    found = _EXEC_FAILED.search(error)
    if found is None:
        return None
    reason = found["reason"].rpartition(": ")[2] if found["reason"].startswith("stat ") else found["reason"]
    return ProcessNotStarted(found["path"], reason)


def _last_error(log: Path) -> str:
    """runc's last error from its JSON log file, else a placeholder."""
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return "no runc log"
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal"):
            return str(entry.get("msg", line))
    return lines[-1] if lines else "empty runc log"


class Runc:
    """runc with lambkin's own state root, so nothing of ours mixes with other containers on the host."""

    __slots__ = ("binary", "root")

    def __init__(self, root: Path, binary: str = "runc") -> None:
        self.root = root
        self.binary = binary

    def _argv(self, *args: str, log: Path | None = None) -> list[str]:
        head = [self.binary, "--root", str(self.root)]
        if log is not None:
            head += ["--log", str(log), "--log-format", "json"]
        return [*head, *args]

    async def run(self, sandbox_id: str, bundle: Path, stdout: int, stderr: int) -> int:
        """`runc run --detach`: the container's init keeps `stdout`/`stderr`; returns its pid."""
        pid_file = bundle / "pid"
        with unpinned():  # the container runs on every CPU, not the event loop's alone
            process = await asyncio.create_subprocess_exec(
                *self._argv(
                    "run",
                    "--detach",
                    "--pid-file",
                    str(pid_file),
                    "--bundle",
                    str(bundle),
                    sandbox_id,
                    log=bundle / "runc.log",
                ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        code = await process.wait()
        if code != 0:
            error = _last_error(bundle / "runc.log")
            raise not_started_error(error) or SandboxError(f"runc run {sandbox_id}: {error}")
        try:
            return int(pid_file.read_text())
        except (OSError, ValueError) as exc:
            raise SandboxError(f"runc run {sandbox_id}: no pid file") from exc

    async def delete(self, sandbox_id: str) -> None:
        """`runc delete --force`: kills every process, removes the container; quiet if it does not exist."""
        with unpinned():
            process = await asyncio.create_subprocess_exec(
                *self._argv("delete", "--force", sandbox_id),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        _, err = await process.communicate()
        if process.returncode != 0 and b"does not exist" not in err:
            raise SandboxError(f"runc delete {sandbox_id}: {err.decode(errors='replace').strip()}")

    def ids(self) -> list[str]:
        """Containers in lambkin's state root, read from its directory (no runc process needed)."""
        try:
            with os.scandir(self.root) as entries:
                return [entry.name for entry in entries if entry.is_dir()]
        except FileNotFoundError:
            return []
