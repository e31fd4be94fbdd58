"""Zip packages for the end-to-end tests, and a stand-in managed runtime made from a test image.

The stand-in is the python-handlers image (awslambdaric, handler from its first argument) pushed to the
server as `lambkin-runtimes/<name>` and recorded as built, as `lambkin runtimes build` records a runtime
(runtimes/catalog.py): the server then runs zip functions of that runtime on it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import zipfile

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

# A handler that shows what it runs with: its module's marker, the event, _HANDLER and /var/task, /opt.
HANDLER_SOURCE = """
import os

MARKER = {marker!r}


def handler(event, context):
    def listing(path):
        return sorted(os.listdir(path)) if os.path.isdir(path) else None

    return {{
        "marker": MARKER,
        "event": event,
        "handler": os.environ.get("_HANDLER"),
        "task": listing("/var/task"),
        "opt": listing("/opt"),
    }}
"""


def zip_of(files: dict[str, str | bytes]) -> bytes:
    """A package of `files` (mode 0600, as `writestr` gives them), the same bytes for the same files: every
    entry dated 1980-01-01 (`writestr` with a name dates it now, so two packages of the same files made two
    seconds apart had different digests)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o600 << 16
            archive.writestr(entry, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def handler_zip(marker: str) -> bytes:
    """A package whose `zipfn.handler` answers with `marker` (and what it sees)."""
    return zip_of({"zipfn.py": HANDLER_SOURCE.format(marker=marker)})


def code_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def standin_runtime(server: LambkinServer, test_images: BuiltImages, name: str = "python3.13") -> None:
    """Makes `name` a runtime of the server, run on the python-handlers image."""
    test_images.push("python-handlers", server.registry, tag="standin", repository=f"lambkin-runtimes/{name}")
    token = base64.b64encode(f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}".encode()).decode()
    request = urllib.request.Request(
        f"{server.endpoint}/v2/lambkin-runtimes/{name}/manifests/standin",
        method="HEAD",
        headers={
            "Authorization": f"Basic {token}",
            "Accept": "application/vnd.oci.image.manifest.v1+json,"
            "application/vnd.docker.distribution.manifest.v2+json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        digest = response.headers["Docker-Content-Digest"]
    records = server.data_dir / "runtimes" / "built"
    records.mkdir(parents=True, exist_ok=True)
    (records / f"{name}.json").write_text(json.dumps({"digest": digest, "key": "standin"}))
