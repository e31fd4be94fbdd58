"""The URLs lambkin hands out: the path form by default, a public base URL, the host form on request."""

from __future__ import annotations

from pathlib import Path

from lambkin.api.http_urls import API_HOST, PublicUrls
from lambkin.config import settings_from_environment

ENDPOINT = "http://127.0.0.1:9000"


def test_the_path_form_is_the_default() -> None:
    urls = PublicUrls.of(None, ENDPOINT, "us-east-1", host_form=False)
    assert urls.api("abcdefghij") == "http://127.0.0.1:9000/execute-api/abcdefghij"
    assert urls.function_url("u" * 32) == f"http://127.0.0.1:9000/lambda-url/{'u' * 32}/"


def test_a_public_base_url_starts_every_url() -> None:
    urls = PublicUrls.of("https://lambkin.example.com/", ENDPOINT, "eu-west-1", host_form=False)
    assert urls.api("abcdefghij") == "https://lambkin.example.com/execute-api/abcdefghij"
    hosted = PublicUrls.of("https://lambkin.example.com", ENDPOINT, "eu-west-1", host_form=True)
    assert hosted.api("abcdefghij") == "https://abcdefghij.execute-api.eu-west-1.lambkin.example.com"
    assert hosted.function_url("u" * 32) == f"https://{'u' * 32}.lambda-url.eu-west-1.lambkin.example.com/"


def test_the_host_form_without_a_base_uses_localhost_names() -> None:
    urls = PublicUrls.of(None, ENDPOINT, "us-east-1", host_form=True)
    assert urls.api("abcdefghij") == "http://abcdefghij.execute-api.us-east-1.localhost:9000"
    assert API_HOST.match("abcdefghij.execute-api.us-east-1.localhost.") is not None


def test_the_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {"LAMBKIN_PUBLIC_URL": "https://x.example", "LAMBKIN_HOST_URLS": "1"}
    settings, _ = settings_from_environment(tmp_path, "127.0.0.1", 9000, env)
    assert settings.public_url == "https://x.example" and settings.host_urls
    plain, _ = settings_from_environment(tmp_path, "127.0.0.1", 9000, {})
    assert plain.public_url is None and not plain.host_urls
