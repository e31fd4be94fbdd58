"""Server configuration: data directory, address, region, account, and the access key pair."""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    """The server's one access key pair: SigV4 for the AWS APIs, basic auth for the registry."""

    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 9000
    region: str = "us-east-1"
    account_id: str = "000000000000"
    credentials: Credentials = field(default_factory=lambda: Credentials("", ""))
    account_concurrency: int = 1000  # ConcurrentExecutions (LAMBKIN_ACCOUNT_CONCURRENCY), Lambda's default

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
            account_concurrency=int(
                os.environ.get("LAMBKIN_ACCOUNT_CONCURRENCY")
                or os.environ.get("LAMBKIN_CONCURRENCY_LIMIT")
                or 1000
            ),
        ),
        generated,
    )
