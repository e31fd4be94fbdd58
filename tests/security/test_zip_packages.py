"""Zip packages cannot reach outside their place: hostile archives are refused before anything is stored, the
code at /var/task is read-only to the function, and a package download URL works only as lambkin signed it."""

from __future__ import annotations

import io
import json
import stat
import urllib.error
import urllib.request
import zipfile
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambkin.api.code_downloads import LIFETIME_S, CodeUrls
from tests.e2e.lambda_support import execution_role
from tests.e2e.zip_support import standin_runtime
from tests.harness import LambkinServer
from tests.images import BuiltImages

RUNTIME = "python3.13"
DIGEST = "sha256:" + "ab" * 32
WRITER = """
import os


def handler(event, context):
    outcomes = {}
    for path in ("/var/task/writer.py", "/var/task/new-file", "/opt/new-file"):
        try:
            with open(path, "a") as target:
                target.write("x")
            outcomes[path] = "written"
        except OSError as exc:
            outcomes[path] = type(exc).__name__
    return outcomes
"""


def test_a_signed_url_names_one_package_for_a_limited_time() -> None:
    urls = CodeUrls.from_secret("http://lambkin", "secret")
    url = urls.url(DIGEST, now=1000.0)
    query = dict(part.split("=") for part in url.partition("?")[2].split("&"))
    hex_digest = DIGEST.partition(":")[2]

    assert urls.check(hex_digest, query["Expires"], query["Signature"], now=1000.0 + LIFETIME_S) is None
    assert (
        urls.check(hex_digest, query["Expires"], query["Signature"], now=1001.0 + LIFETIME_S) == "URL expired"
    )
    longer = str(int(query["Expires"]) + 3600)
    assert urls.check(hex_digest, longer, query["Signature"], now=1000.0) == "signature does not match"
    assert (
        urls.check("cd" * 32, query["Expires"], query["Signature"], now=1000.0) == "signature does not match"
    )
    assert urls.check("../../etc/passwd", query["Expires"], query["Signature"], now=1000.0) == "malformed URL"
    other_server = CodeUrls.from_secret("http://lambkin", "another secret")
    assert other_server.check(hex_digest, query["Expires"], query["Signature"], now=1000.0) is not None


@pytest.fixture(scope="module")
def lam(server: LambkinServer) -> Any:
    return server.client("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def role(server: LambkinServer, test_images: BuiltImages) -> str:
    standin_runtime(server, test_images, RUNTIME)
    return execution_role(server.endpoint)


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([("etc", b"/etc", stat.S_IFLNK | 0o777)], id="symlink-to-an-absolute-path"),
        pytest.param([("lib/up", b"../../../../root", stat.S_IFLNK | 0o777)], id="symlink-climbing-out"),
        pytest.param(
            [("out", b".", stat.S_IFLNK | 0o777), ("out/x.py", b"", stat.S_IFREG | 0o644)],
            id="a-file-through-a-symlink",
        ),
    ],
)
def test_packages_with_links_out_are_refused(
    lam: Any, role: str, entries: list[tuple[str, bytes, int]]
) -> None:
    with pytest.raises(ClientError) as raised:
        lam.create_function(
            FunctionName="links", Role=role, Runtime=RUNTIME, Handler="a.b", Code={"ZipFile": _zip(entries)}
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert raised.value.response["Error"]["Message"].startswith("Could not unzip uploaded file.")


@pytest.mark.runc
def test_the_function_cannot_write_its_code_or_its_layers(lam: Any, role: str) -> None:
    lam.create_function(
        FunctionName="writer",
        Role=role,
        Runtime=RUNTIME,
        Handler="writer.handler",
        Code={"ZipFile": _zip([("writer.py", WRITER.encode(), stat.S_IFREG | 0o666)])},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="writer", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )

    outcomes = json.loads(lam.invoke(FunctionName="writer", Payload=b"{}")["Payload"].read())
    assert set(outcomes.values()) <= {"OSError", "PermissionError"}, outcomes


def test_a_download_url_for_another_package_is_refused(server: LambkinServer, lam: Any, role: str) -> None:
    lam.create_function(
        FunctionName="downloaded",
        Role=role,
        Runtime=RUNTIME,
        Handler="a.b",
        Code={"ZipFile": _zip([("a.py", b"", stat.S_IFREG | 0o644)])},
    )
    location = lam.get_function(FunctionName="downloaded")["Code"]["Location"]
    path, _, query = location.partition("?")
    elsewhere = path.rpartition("/")[0] + "/" + "00" * 32 + "?" + query
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(elsewhere, timeout=30)
    denied.value.close()
    assert denied.value.code == 403
