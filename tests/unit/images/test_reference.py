"""Image references parse as docker parses them; bad ones get a clear error."""

from __future__ import annotations

import pytest

from lambkin.images.errors import DigestInvalid, NameInvalid, TagInvalid
from lambkin.images.reference import ImageReference, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:9000/app:v1", ImageReference("localhost:9000", "app", "v1")),
        ("127.0.0.1:5000/team/app", ImageReference("127.0.0.1:5000", "team/app", "latest")),
        (f"registry.example/app@{DIGEST}", ImageReference("registry.example", "app", None, DIGEST)),
        (f"host:1/app:v2@{DIGEST}", ImageReference("host:1", "app", "v2", DIGEST)),
        ("python:3.12", ImageReference("registry-1.docker.io", "library/python", "3.12")),
        ("user/app", ImageReference("registry-1.docker.io", "user/app", "latest")),
        ("docker.io/library/busybox:1", ImageReference("registry-1.docker.io", "library/busybox", "1")),
        ("[::1]:5000/app:v1", ImageReference("[::1]:5000", "app", "v1")),
    ],
)
def test_references_parse_like_docker(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


def test_host_port_and_locality() -> None:
    ref = parse_reference("127.0.0.1:9000/app:v1")
    remote = parse_reference("registry.example:443/app")

    assert (ref.host, ref.port, ref.is_local_host) == ("127.0.0.1", 9000, True)
    assert (remote.host, remote.port, remote.is_local_host) == ("registry.example", 443, False)
    assert parse_reference("[::1]:5000/app").is_local_host
    assert str(ref.with_digest(DIGEST)) == f"127.0.0.1:9000/app:v1@{DIGEST}"


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("", NameInvalid, "empty image reference"),
        ("host:1/App:v1", NameInvalid, "lowercase"),
        ("host:1/app:bad tag", TagInvalid, "invalid tag"),
        ("host:1/app@sha256:not!hex", DigestInvalid, "invalid digest"),
        ("host:1/", NameInvalid, "invalid image reference"),
    ],
)
def test_bad_references_are_rejected(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_reference(text)
