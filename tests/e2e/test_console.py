"""The web console over HTTP: signed in with an access key it shows functions and queues, invokes, sends,
peeks and purges as that key may (an IAM user's limits hold), refuses forms without the session's token,
and serves nothing to a visitor without a session."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.lambda_support import allow_queue_polling, create_active
from tests.e2e.test_authorization import READ_ONLY, user
from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.images import BuiltImages

pytestmark = pytest.mark.runc

clients: list[httpx.Client] = []  # the test's signed-in clients, closed after it


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while clients:
        clients.pop().close()


def signed_in(
    server: LambkinServer, key: str = ACCESS_KEY_ID, secret: str = SECRET_ACCESS_KEY
) -> httpx.Client:
    browser = httpx.Client(base_url=server.endpoint, follow_redirects=True, timeout=120)
    answer = browser.post(
        "/console/sign-in", data={"access_key_id": key, "secret_access_key": secret}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return browser


def form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


@pytest.fixture(scope="module")
def function(server: LambkinServer, test_images: BuiltImages) -> str:
    image = test_images.push("python-handlers", server.registry, tag="v1")
    create_active(server.client("lambda"), "console-echo", image)
    return "console-echo"


def test_a_visitor_without_a_session_is_sent_to_sign_in(server: LambkinServer) -> None:
    with httpx.Client(base_url=server.endpoint) as visitor:
        visit(visitor)


def visit(visitor: httpx.Client) -> None:
    for path in ("/console", "/console/functions", "/console/queues/anything"):
        answer = visitor.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/sign-in")
    wrong = visitor.post(
        "/console/sign-in", data={"access_key_id": ACCESS_KEY_ID, "secret_access_key": "nope"}
    )
    assert wrong.status_code == 401 and "do not match" in wrong.text
    assert "set-cookie" not in wrong.headers


def test_the_session_cookie_is_http_only_and_strict(server: LambkinServer) -> None:
    with httpx.Client(base_url=server.endpoint) as visitor:
        answer = visitor.post(
            "/console/sign-in", data={"access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY}
        )
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/console" in cookie


def test_functions_are_listed_shown_and_invoked(server: LambkinServer, function: str) -> None:
    browser = signed_in(server)
    clients.append(browser)
    listed = browser.get("/console/functions")
    assert f'href="/console/functions/{function}"' in listed.text
    shown = browser.get(f"/console/functions/{function}")
    assert "Configuration" in shown.text and ":function:console-echo" in shown.text
    invoked = browser.post(
        f"/console/functions/{function}/invoke",
        data={"payload": '{"hello": "<console>"}', "form_token": form_token(shown.text)},
    )
    assert invoked.status_code == 200
    assert "&lt;console&gt;" in invoked.text and "<console>" not in invoked.text  # escaped, never markup
    assert "START RequestId:" in invoked.text and "Succeeded" in invoked.text
    again = browser.get(f"/console/functions/{function}")
    assert "idle" in again.text or "frozen" in again.text or "busy" in again.text  # its warm environment


def test_a_form_without_the_session_token_is_refused(server: LambkinServer, function: str) -> None:
    browser = signed_in(server)
    clients.append(browser)
    answer = browser.post(f"/console/functions/{function}/invoke", data={"payload": "{}"})
    assert answer.status_code == 403 and "expired" in answer.text


def test_queues_send_peek_and_purge(server: LambkinServer) -> None:
    sqs = server.client("sqs")
    sqs.create_queue(QueueName="console-jobs")
    browser = signed_in(server)
    clients.append(browser)
    assert 'href="/console/queues/console-jobs"' in browser.get("/console/queues").text
    page = browser.get("/console/queues/console-jobs").text
    token = form_token(page)
    sent = browser.post("/console/queues/console-jobs/send", data={"body": "job <1>", "form_token": token})
    assert "Sent message" in sent.text
    peeked = browser.post("/console/queues/console-jobs/peek", data={"form_token": token})
    assert "job &lt;1&gt;" in peeked.text
    url = sqs.get_queue_url(QueueName="console-jobs")["QueueUrl"]
    visible = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert visible["Attributes"]["ApproximateNumberOfMessages"] == "1"  # a peek leaves it visible
    assert "Purged" in browser.post("/console/queues/console-jobs/purge", data={"form_token": token}).text


def test_a_user_sees_and_does_only_what_their_policies_allow(server: LambkinServer, function: str) -> None:
    key: Any = user(server, "console-reader", READ_ONLY)
    reader = signed_in(server, key[0], key[1])
    clients.append(reader)
    assert f'href="/console/functions/{function}"' in reader.get("/console/functions").text
    page = reader.get(f"/console/functions/{function}")
    denied = reader.post(
        f"/console/functions/{function}/invoke", data={"payload": "{}", "form_token": form_token(page.text)}
    )
    assert denied.status_code == 403 and "not authorized to perform: lambda:InvokeFunction" in denied.text
    nobody_key: Any = user(server, "console-nobody")
    nobody = signed_in(server, nobody_key[0], nobody_key[1])
    clients.append(nobody)
    refused = nobody.get("/console/functions")
    assert refused.status_code == 403 and "lambda:ListFunctions" in refused.text


def test_signing_out_ends_the_session(server: LambkinServer) -> None:
    browser = signed_in(server)
    clients.append(browser)
    assert browser.post("/console/sign-out").url.path == "/console/sign-in"
    assert browser.get("/console/functions", follow_redirects=False).status_code == 303


def test_images_are_listed_as_far_as_the_key_may_describe_them(server: LambkinServer, function: str) -> None:
    browser = signed_in(server)
    clients.append(browser)
    listed = browser.get("/console/images").text
    assert "python-handlers" in listed and "v1" in listed and "sha256:" in listed
    nobody_key: Any = user(server, "console-no-images")
    nobody = signed_in(server, nobody_key[0], nobody_key[1])
    clients.append(nobody)
    assert "No images." in nobody.get("/console/images").text


def test_a_function_page_lists_its_event_source_mappings(server: LambkinServer, function: str) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="console-source")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allow_queue_polling(server.endpoint)
    mapping = server.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName=function)
    browser = signed_in(server)
    clients.append(browser)
    page = browser.get(f"/console/functions/{function}").text
    assert mapping["UUID"] in page and arn in page


def test_a_function_page_charts_its_last_hour_from_cloudwatch(server: LambkinServer, function: str) -> None:
    server.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    browser = signed_in(server)
    clients.append(browser)
    deadline = time.monotonic() + 90  # lambkin samples its counts every few seconds
    page = ""
    while "<rect" not in page and time.monotonic() < deadline:
        page = browser.get(f"/console/functions/{function}").text
        time.sleep(1)
    assert 'aria-label="Invocations per minute over the last hour' in page and "<rect" in page
    assert "Invocations: the numbers" in page  # the same data as a table


def live_log_lines(
    browser: httpx.Client, url: str, wanted: str, last_event_id: str | None = None
) -> list[tuple[str, str]]:
    """The (id, line) events of a live log stream, read until one holds `wanted` (or a minute passed)."""
    headers = {"last-event-id": last_event_id} if last_event_id else {}
    events: list[tuple[str, str]] = []
    deadline = time.monotonic() + 60
    with browser.stream("GET", url, headers=headers) as stream:
        assert stream.headers["content-type"] == "text/event-stream"
        event_id = ""
        for line in stream.iter_lines():
            if line.startswith("id: "):
                event_id = line.removeprefix("id: ")
            elif line.startswith("data: "):
                events.append((event_id, json.loads(line.removeprefix("data: "))))
                if wanted in events[-1][1]:
                    return events
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"{wanted!r} never came; the stream sent {events}")


def test_the_live_log_misses_no_line_before_its_stream_opens_nor_between_streams(
    server: LambkinServer, test_images: BuiltImages
) -> None:
    image = test_images.push("python-handlers", server.registry, tag="v1")
    lam = server.client("lambda")
    create_active(lam, "console-logger", image, ImageConfig={"Command": ["app.log"]})
    browser = signed_in(server)
    clients.append(browser)
    page = browser.get("/console/functions/console-logger/logs")
    found = re.search(r'data-stream="([^"]+)"', page.text)
    assert found is not None, page.text
    stream_url = html.unescape(found.group(1))
    lam.invoke(FunctionName="console-logger", Payload=json.dumps({"lines": ["before the stream"]}).encode())
    first = live_log_lines(browser, stream_url, "before the stream")  # written before it opened
    lam.invoke(FunctionName="console-logger", Payload=json.dumps({"lines": ["between streams"]}).encode())
    resumed = live_log_lines(browser, stream_url, "between streams", last_event_id=first[-1][0])
    assert not any("before the stream" in line for _, line in resumed)  # resumed after the last one shown
