"""The console's queue pages: the queues with their depths, a queue's attributes with send, peek (received
with a zero visibility timeout, so consumers still get the messages), purge and redrive to its sources."""

from __future__ import annotations

from lambkin.api import console_pages as html
from lambkin.api.console_calls import Calls
from lambkin.api.console_sessions import Session


class QueuePages:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def listing(self, session: Session) -> str:
        urls = (await self.calls.call(session, "sqs", "ListQueues", {})).get("QueueUrls", [])
        rows = []
        for url in sorted(urls):
            name = url.rsplit("/", 1)[-1]
            counts = await self._counts(session, url)
            rows.append([html.link(html.queue_href(name), name), *(html.text(c) for c in counts)])
        return html.table(
            f"{len(urls)} queues", ["Name", "Visible", "In flight", "Delayed"], rows, "No queues yet."
        )

    async def _counts(self, session: Session, url: str) -> list[str]:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        got = await self.calls.call(
            session, "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": names}
        )
        attributes = got.get("Attributes", {})
        return [attributes.get(n, "0") for n in names]

    async def _url(self, session: Session, name: str) -> str:
        return str((await self.calls.call(session, "sqs", "GetQueueUrl", {"QueueName": name}))["QueueUrl"])

    async def page(self, session: Session, name: str, note: str | None) -> str:
        url = await self._url(session, name)
        attributes = (
            await self.calls.call(
                session, "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}
            )
        )["Attributes"]
        token = session.form_token
        buttons = "".join(
            html.action_button(html.queue_href(name, f"/{action}"), token, label)
            for action, label in (
                ("peek", "Peek at messages"),
                ("purge", "Purge"),
                ("redrive", "Redrive to source"),
            )
        )
        notice = f'<p class="note" role="status">{note}</p>' if note else ""
        return (
            notice
            + html.pairs("Attributes", sorted(attributes.items()))
            + buttons
            + '<h2 id="send">Send a message</h2>'
            + html.send_form(name, token)
        )

    async def act(self, session: Session, name: str, action: str, form: dict[str, str]) -> str:
        """The action done, described in HTML for the page's notice."""
        url = await self._url(session, name)
        if action == "send":
            sent = await self.calls.call(
                session, "sqs", "SendMessage", {"QueueUrl": url, "MessageBody": form.get("body", "")}
            )
            return "Sent message " + html.text(sent["MessageId"]) + "."
        if action == "purge":
            await self.calls.call(session, "sqs", "PurgeQueue", {"QueueUrl": url})
            return "Purged."
        if action == "peek":  # received with a zero visibility timeout: they stay visible to consumers
            got = await self.calls.call(
                session,
                "sqs",
                "ReceiveMessage",
                {"QueueUrl": url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 0, "WaitTimeSeconds": 0},
            )
            bodies = [m["Body"] for m in got.get("Messages", [])]
            if not bodies:
                return "No message is visible now."
            return "Visible now: " + "".join(f'<pre class="message">{html.text(b)}</pre>' for b in bodies)
        arn = (
            await self.calls.call(
                session, "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
            )
        )["Attributes"]["QueueArn"]
        started = await self.calls.call(session, "sqs", "StartMessageMoveTask", {"SourceArn": arn})
        return "Redrive started (task " + html.text(started.get("TaskHandle", "")) + ")."
