"""/tmp as Lambda has it: disk of the function's ephemeral storage, not memory; full means ENOSPC."""

from __future__ import annotations

import json
from pathlib import Path

from lambkin.sandbox.runc import RuncBackend
from tests.security.sandboxes import needs_runc, run_python

pytestmark = needs_runc

MB = 1024 * 1024

# Writes up to N MB into /tmp/big in 1 MB steps; prints how much it wrote and the error it stopped at.
WRITER = """
import errno, json, os, sys
wanted, written, error = int(sys.argv[1]), 0, None
chunk = b"x" * (1024 * 1024)
fd = os.open("/tmp/big", os.O_WRONLY | os.O_CREAT)
try:
    while written < wanted:
        written += os.write(fd, chunk) // (1024 * 1024)
    os.fsync(fd)
except OSError as exc:
    error = errno.errorcode[exc.errno]
print(json.dumps({"written_mb": written, "error": error}))
"""


async def write_to_tmp(backend: RuncBackend, root: Path, megabytes: int) -> dict[str, object]:
    outcome = await run_python(
        backend, root, WRITER.replace("int(sys.argv[1])", str(megabytes)), memory_mb=128, tmp_size_mb=512
    )
    assert outcome.code == 0, f"exit {outcome.code}: {outcome.stderr}"
    result: dict[str, object] = json.loads(outcome.stdout)
    return result


async def test_tmp_holds_more_than_the_functions_memory(backend: RuncBackend, python_root: Path) -> None:
    assert await write_to_tmp(backend, python_root, 300) == {"written_mb": 300, "error": None}


async def test_a_full_tmp_answers_enospc(backend: RuncBackend, python_root: Path) -> None:
    result = await write_to_tmp(backend, python_root, 600)
    assert result["error"] == "ENOSPC"
    written = result["written_mb"]
    assert isinstance(written, int) and 400 < written <= 512


async def test_tmp_starts_empty_and_writable_by_the_functions_user(
    backend: RuncBackend, python_root: Path
) -> None:
    source = """
    import os
    open("/tmp/mine", "w").write("hi")
    print(sorted(os.listdir("/tmp")), oct(os.stat("/tmp").st_mode & 0o7777), os.stat("/tmp/mine").st_uid)
    """
    outcome = await run_python(backend, python_root, source)
    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.split() == ["['mine']", "0o1777", "993"]
