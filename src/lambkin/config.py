"""Server configuration: data directory, address, region, account, and the access key pair."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"


FUNCTION_KEY_PREFIX = "LKFN"  # the access key IDs lambkin gives functions (a server's own start with LKIA)


@dataclass(frozen=True)
class Credentials:
    """The server's access key pair: SigV4 for the AWS APIs, basic auth for the registry.

    Functions sign with keys of their own, derived from this secret (nothing to store, stable across
    restarts): `for_function(name)` gives a function its pair, and `secret_for` knows every such pair.
    """

    access_key_id: str
    secret_access_key: str

    def for_function(self, function: str) -> Credentials:
        """The key pair the sandboxes of the function named `function` sign with (AWS_ACCESS_KEY_ID, ...)."""
        digest = self._mac("access-key-id", function)
        key_id = FUNCTION_KEY_PREFIX + base64.b32encode(digest).decode()[:16]
        return Credentials(key_id, self._function_secret(key_id))

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret of a key this server issued (its own, or a function's); None for any other key."""
        if hmac.compare_digest(access_key_id.encode(), self.access_key_id.encode()):
            return self.secret_access_key
        if (
            access_key_id.startswith(FUNCTION_KEY_PREFIX)
            and len(access_key_id) == 20
            and self.secret_access_key
        ):
            return self._function_secret(access_key_id)
        return None

    def _function_secret(self, key_id: str) -> str:
        return base64.b64encode(self._mac("secret", key_id)).decode()[:40]

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(
            self.secret_access_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256
        ).digest()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 9000
    region: str = "us-east-1"
    account_id: str = "000000000000"
    credentials: Credentials = field(default_factory=lambda: Credentials("", ""))
    account_concurrency: int = 1000  # ConcurrentExecutions (LAMBKIN_ACCOUNT_CONCURRENCY), Lambda's default
    # Unreferenced blobs are collected this often (LAMBKIN_IMAGE_GC_INTERVAL).
    image_gc_interval_s: float = 3600.0

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def load_credentials(data_dir: Path, environ: dict[str, str] | None = None) -> tuple[Credentials, bool]:
    """The key pair from the environment, else the data directory, else a new one saved there.

    Returns the pair and whether it was generated just now (so the caller can print it once).
    """
    env = os.environ if environ is None else environ
    key_id = env.get("LAMBKIN_ACCESS_KEY_ID")
    secret = env.get("LAMBKIN_SECRET_ACCESS_KEY")
    if key_id and secret:
        return Credentials(key_id, secret), False
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        saved = json.loads(path.read_text())
        return Credentials(saved["access_key_id"], saved["secret_access_key"]), False
    creds = Credentials(
        access_key_id="LKIA" + _random_key(16, string.ascii_uppercase + string.digits),
        secret_access_key=_random_key(40, string.ascii_letters + string.digits),
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"access_key_id": creds.access_key_id, "secret_access_key": creds.secret_access_key}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return creds, True


def routes_file(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The HTTP gateway's routes file: $LAMBKIN_ROUTES, else `<data>/routes.json`."""
    env = os.environ if environ is None else environ
    return Path(env["LAMBKIN_ROUTES"]) if env.get("LAMBKIN_ROUTES") else data_dir / "routes.json"


def settings_from_environment(data_dir: Path, host: str, port: int) -> tuple[Settings, bool]:
    """Settings for `lambkin server`: arguments plus LAMBKIN_* variables."""
    creds, generated = load_credentials(data_dir)
    return (
        Settings(
            data_dir=data_dir,
            host=host,
            port=port,
            region=os.environ.get("LAMBKIN_REGION", "us-east-1"),
            account_id=os.environ.get("LAMBKIN_ACCOUNT_ID", "000000000000"),
            credentials=creds,
            image_gc_interval_s=float(os.environ.get("LAMBKIN_IMAGE_GC_INTERVAL") or 3600),
            account_concurrency=int(
                os.environ.get("LAMBKIN_ACCOUNT_CONCURRENCY")
                or os.environ.get("LAMBKIN_CONCURRENCY_LIMIT")
                or 1000
            ),
        ),
        generated,
    )
