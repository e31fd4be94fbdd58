"""Image references (`host:port/repo:tag`, `repo@sha256:...`, Docker Hub short names), parsed and checked."""

from __future__ import annotations

from dataclasses import dataclass

from lambkin.images.catalog import TAG_RE, check_digest, check_repository
from lambkin.images.errors import NameInvalid, TagInvalid

DOCKER_HUB = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


@dataclass(frozen=True)
class ImageReference:
    """One image in one registry, named by tag, digest, or both (the digest then decides)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def host(self) -> str:
        """The registry's host name without its port."""
        if self.registry.startswith("["):
            return self.registry.split("]", 1)[0] + "]"
        return self.registry.rsplit(":", 1)[0] if ":" in self.registry else self.registry

    @property
    def port(self) -> int | None:
        tail = self.registry.rsplit("]", 1)[-1]
        return int(tail.rsplit(":", 1)[1]) if ":" in tail else None

    @property
    def is_local_host(self) -> bool:
        return self.host in LOCAL_HOSTS

    def with_digest(self, digest: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> ImageReference:
    """Parses a reference as docker does; raises NameInvalid, TagInvalid or DigestInvalid.

    A first component with a `.` or `:`, or `localhost`, is a registry host; otherwise the image is on
    Docker Hub (`registry-1.docker.io`), with `library/` before one-component names. No tag and no
    digest means `:latest`.
    """
    value = text.strip()
    if not value:
        raise NameInvalid("empty image reference", {"reference": text})
    name, _, digest = value.partition("@")
    if digest:
        check_digest(digest)
    tag = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not TAG_RE.match(tag):
            raise TagInvalid(f"invalid tag {tag!r} in image reference {text!r}", {"tag": tag})
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, repository = first, rest
    else:
        registry, repository = "docker.io", name
    if registry.lower() in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = f"library/{repository}"
    if not registry or not repository:
        raise NameInvalid(f"invalid image reference {text!r}", {"reference": text})
    try:
        check_repository(repository)
    except NameInvalid:
        raise NameInvalid(
            f"invalid repository name {repository!r} in image reference {text!r}"
            " (lowercase letters, digits and separators only)",
            {"reference": text},
        ) from None
    if tag is None and not digest:
        tag = "latest"
    return ImageReference(registry, repository, tag, digest or None)
