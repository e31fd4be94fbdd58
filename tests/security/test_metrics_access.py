"""/metrics tells what runs on the server (function and queue names, traffic): without a token configured it
answers no one, and with one it answers only a scraper presenting it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer

TOKEN = "scrape-me-7f3a"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambkinServer]:
    data = Path(tmp_path_factory.mktemp("metrics-guarded")) / "data"
    instance = LambkinServer(data, env={"LAMBKIN_METRICS_TOKEN": TOKEN}).start()
    try:
        yield instance
    finally:
        instance.stop()


def test_without_a_token_configured_metrics_are_refused_to_everyone(server: LambkinServer) -> None:
    anonymous = httpx.get(f"{server.endpoint}/metrics", timeout=30)
    assert anonymous.status_code == 403
    assert "LAMBKIN_METRICS_TOKEN" in anonymous.text
    with_root_key = httpx.get(
        f"{server.endpoint}/metrics", auth=(ACCESS_KEY_ID, SECRET_ACCESS_KEY), timeout=30
    )
    assert with_root_key.status_code == 403
    guessed = httpx.get(f"{server.endpoint}/metrics", headers={"Authorization": "Bearer None"}, timeout=30)
    assert guessed.status_code == 403


def test_a_scrape_needs_the_configured_bearer_token(guarded: LambkinServer) -> None:
    url = f"{guarded.endpoint}/metrics"
    missing = httpx.get(url, timeout=30)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"}, timeout=30)
    assert wrong.status_code == 401
    basic = httpx.get(url, auth=("metrics", TOKEN), timeout=30)
    assert basic.status_code == 401
    right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain; version=")
    assert "lambkin_http_requests_total" in right.text


def signed_get(url: str, key: tuple[str, str]) -> httpx.Response:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("GET", url)
    SigV4Auth(Credentials(*key), "monitoring", "us-east-1").add_auth(request)
    return httpx.get(url, headers=dict(request.headers.items()), timeout=30)


def test_a_scrape_signed_by_the_account_root_passes_and_by_a_user_does_not(guarded: LambkinServer) -> None:
    url = f"{guarded.endpoint}/metrics"
    assert signed_get(url, (ACCESS_KEY_ID, SECRET_ACCESS_KEY)).status_code == 200
    assert signed_get(url, (ACCESS_KEY_ID, SECRET_ACCESS_KEY + "x")).status_code == 403
    iam = guarded.client("iam")
    iam.create_user(UserName="watcher")
    iam.attach_user_policy(UserName="watcher", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName="watcher")["AccessKey"]
    refused = signed_get(url, (key["AccessKeyId"], key["SecretAccessKey"]))
    assert refused.status_code == 403
    assert "account root" in refused.text
