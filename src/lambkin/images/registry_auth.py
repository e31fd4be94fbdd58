"""Registry credentials and the auth handshake: basic, or a bearer token from the challenge's realm."""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx

_PARAM_RE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """`user:password`, as `skopeo --creds` takes it."""
        username, sep, password = text.partition(":")
        if not sep or not username:
            raise ValueError("credentials must be USERNAME:PASSWORD")
        return cls(username, password)

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


class RegistryAuthError(Exception):
    """The token endpoint refused the credentials or answered nonsense."""


class RegistryAuth:
    """The Authorization header for one repository scope, learned from the registry's 401 challenge."""

    def __init__(self, credentials: Credentials | None, scope: str) -> None:
        self.credentials = credentials
        self.scope = scope
        self._header: str | None = None

    def header(self) -> dict[str, str]:
        return {"Authorization": self._header} if self._header else {}

    def can_answer(self, response: httpx.Response) -> bool:
        scheme = _challenge(response)[0]
        if scheme == "basic":
            return self.credentials is not None and self._header != self.credentials.basic()
        return scheme == "bearer"

    async def answer(self, http: httpx.AsyncClient, response: httpx.Response) -> None:
        scheme, params = _challenge(response)
        if scheme == "basic":
            assert self.credentials is not None
            self._header = self.credentials.basic()
            return
        realm = params.get("realm")
        if not realm:
            raise RegistryAuthError(f"{response.request.url}: bearer challenge without a realm")
        query = {"scope": params.get("scope", self.scope)}
        if "service" in params:
            query["service"] = params["service"]
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        token_response = await http.get(realm, params=query, auth=auth)
        if token_response.status_code in (401, 403):
            raise RegistryAuthError(f"the token service {realm} refused the credentials")
        if token_response.status_code >= 400:
            raise RegistryAuthError(f"the token service {realm} answered {token_response.status_code}")
        try:
            body = token_response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"the token service {realm} returned no token")
        self._header = f"Bearer {token}"


def _challenge(response: httpx.Response) -> tuple[str, dict[str, str]]:
    value = response.headers.get("WWW-Authenticate", "")
    scheme, _, rest = value.strip().partition(" ")
    return scheme.lower(), dict(_PARAM_RE.findall(rest))


def auth_file_paths() -> list[Path]:
    """Where skopeo, podman, buildah and docker keep logins, in the order containers tools read them."""
    paths = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    paths.append(Path(runtime) / "containers/auth.json")
    paths.append(Path(f"/run/containers/{os.getuid()}/auth.json"))
    paths.append(Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json")
    return paths


def load_auth_files(paths: list[Path] | None = None) -> dict[str, Credentials]:
    """Registry logins (`skopeo login`, `docker login`) by registry host; the first file naming a host wins."""
    found: dict[str, Credentials] = {}
    for path in auth_file_paths() if paths is None else paths:
        try:
            auths = json.loads(path.read_text()).get("auths", {})
        except (OSError, ValueError, AttributeError):
            continue
        for key, entry in auths.items() if isinstance(auths, dict) else ():
            encoded = entry.get("auth") if isinstance(entry, dict) else None
            if not isinstance(encoded, str):
                continue
            try:
                creds = Credentials.parse(base64.b64decode(encoded).decode())
            except ValueError:
                continue
            host = key.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
            found.setdefault(host, creds)
    return found
