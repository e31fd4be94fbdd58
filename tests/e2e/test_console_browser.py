"""The console in a real browser (Debian's Chromium, headless, driven by Playwright): sign in, open a function,
invoke it and read the result, watch a log line appear live. Screenshots are kept in the test's temporary
directory."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.lambda_support import create_active
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 60_000  # for a cold start on a loaded machine; never a timing assertion


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def logger(server: LambkinServer, test_images: BuiltImages) -> str:
    image = test_images.push("python-handlers", server.registry, tag="v1")
    create_active(server.client("lambda"), "browser-logger", image, ImageConfig={"Command": ["app.log"]})
    return "browser-logger"


@pytest.fixture
def page(browser: Browser, server: LambkinServer, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(base_url=server.endpoint)
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    try:
        yield opened
    finally:
        opened.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        context.close()


def sign_in(page: Page, tmp_path: Path) -> None:
    page.goto("/console")
    expect(page).to_have_title("Sign in · lambkin")
    page.get_by_label("Access key ID").fill(ACCESS_KEY_ID)
    page.get_by_label("Secret access key").fill(SECRET_ACCESS_KEY)
    page.screenshot(path=str(tmp_path / "sign-in.png"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title("Functions · lambkin")


def test_sign_in_open_a_function_and_invoke_it(page: Page, logger: str, tmp_path: Path) -> None:
    sign_in(page, tmp_path)
    page.get_by_role("link", name=logger).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(logger)
    page.get_by_label("Event (JSON)").fill(json.dumps({"lines": ["from the browser"]}))
    page.get_by_role("button", name="Invoke").click()
    expect(page.locator("#log-tail")).to_contain_text("from the browser")
    expect(page.locator(".status")).to_have_text("Succeeded")
    page.screenshot(path=str(tmp_path / "invoked.png"), full_page=True)


def test_a_log_line_appears_live(page: Page, server: LambkinServer, logger: str, tmp_path: Path) -> None:
    sign_in(page, tmp_path)
    page.goto(f"/console/functions/{logger}/logs")
    live = page.locator("#live-log")
    expect(live).to_be_attached()
    lam: Any = server.client("lambda")
    lam.invoke(FunctionName=logger, Payload=json.dumps({"lines": ["a line to watch"]}).encode())
    expect(live).to_contain_text("a line to watch")
    page.screenshot(path=str(tmp_path / "live-log.png"), full_page=True)


def test_the_keyboard_reaches_every_control_of_the_sign_in(page: Page) -> None:
    page.goto("/console/sign-in")
    page.keyboard.press("Tab")  # the brand link, then the form's fields and its button, in order
    focused = []
    for _ in range(4):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert focused[:3] == ["key", "secret", "Sign in"]


def test_a_dead_letter_queue_is_redriven_to_its_source(
    page: Page, server: LambkinServer, tmp_path: Path
) -> None:
    sqs: Any = server.client("sqs")
    dlq = sqs.create_queue(QueueName="browser-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    source = sqs.create_queue(QueueName="browser-source", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody="failed once")
    sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)  # received once: its next receive moves it
    assert sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1).get("Messages", []) == []
    sign_in(page, tmp_path)
    page.get_by_role("link", name="Queues").click()
    page.get_by_role("link", name="browser-dlq").click()
    page.get_by_role("button", name="Redrive to source").click()
    expect(page.get_by_role("status")).to_contain_text("Redrive started")
    page.screenshot(path=str(tmp_path / "redrive.png"), full_page=True)
    deadline = time.monotonic() + 60
    bodies: list[str] = []
    while not bodies and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=source, WaitTimeSeconds=2).get("Messages", [])
        bodies = [m["Body"] for m in got]
    assert bodies == ["failed once"]
