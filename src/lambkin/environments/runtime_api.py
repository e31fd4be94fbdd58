"""The Runtime API (2018-06-01) one environment serves to its runtime: /next, /response, /error, /init/error.

The request ID is checked before any state changes; every state change goes through the runtime's state
machine, and a refused one is answered 403 InvalidStateTransition with RAPID's wording. A /response whose
body the runtime's hang-up cut short ends its invocation at once (Runtime.TruncatedResponse). The Extensions,
Logs and Telemetry APIs answer as the emulator does while extensions are not supported.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from lambkin import json_depth
from lambkin.environments.lifecycle import InvalidStateTransition, RuntimeState, runtime_transition
from lambkin.environments.results import (
    INVALID_RESPONSE_MODE,
    MAX_RESPONSE_BYTES,
    FunctionError,
    Outcome,
    Success,
    platform_error,
    response_too_large,
    truncated_response,
    valid_error_type,
)
from lambkin.http11.exchange import Reply, Request
from lambkin.http11.handler import HandlerConnection
from lambkin.loop_cpu import CoreWait

PREFIX = "/2018-06-01"
NEXT = PREFIX + "/runtime/invocation/next"
INIT_ERROR = PREFIX + "/runtime/init/error"
INVOCATION = PREFIX + "/runtime/invocation/"
ERROR_CAUSE_TYPE = "application/vnd.aws.lambda.error.cause+json"
_JSON = (("Content-Type", "application/json"),)
_ACCEPTED = json.dumps({"status": "OK"}).encode()
_INVALID_ID = json.dumps({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}).encode()
_TOO_LARGE = json.dumps(
    {
        "errorMessage": f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
        "errorType": "RequestEntityTooLarge",
    }
).encode()
_SMALL_BODY = 1024 * 1024


@dataclass(slots=True)
class Event:
    """One invocation as the runtime receives it from /next."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str = ""
    client_context: str = ""
    cognito_identity: str = ""

    def headers(self) -> list[tuple[str, str]]:
        pairs = [
            ("Content-Type", "application/json"),
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.invoked_function_arn),
        ]
        if self.trace_id:
            pairs.append(("Lambda-Runtime-Trace-Id", self.trace_id))
        if self.client_context:
            pairs.append(("Lambda-Runtime-Client-Context", self.client_context))
        if self.cognito_identity:
            pairs.append(("Lambda-Runtime-Cognito-Identity", self.cognito_identity))
        return pairs


class RuntimeApi:
    """One environment's Runtime API: hands events to the runtime and collects what it answers.

    The environment awaits `ready` (first /next) or `init_failed` (/init/error) during init, then calls
    `submit(event)` once per invocation and awaits the returned future for the outcome.
    """

    def __init__(self, core: CoreWait | None = None) -> None:
        self._loop = loop = asyncio.get_running_loop()
        self._core = core  # whether the loop has its core promptly: the caller's answer goes first then
        self.state = RuntimeState.STARTED
        self.ready: asyncio.Future[None] = loop.create_future()
        self.init_failed: asyncio.Future[FunctionError] = loop.create_future()
        self._waiter: Reply | None = None
        self._queued: Event | None = None
        self._current_id: str | None = None
        self._outcome: asyncio.Future[Outcome | None] | None = None
        self.connections: set[HandlerConnection] = set()

    # the environment's side
    def submit(self, event: Event) -> asyncio.Future[Outcome | None]:
        """Gives `event` to the runtime's pending /next (now, or as soon as it asks). The future has the
        runtime's outcome; the caller may settle it with None itself (the environment ended, a timeout)."""
        self._outcome = self._loop.create_future()
        self._queued = event
        if self._waiter is not None:
            self._deliver()
        return self._outcome

    @property
    def delivered(self) -> bool:
        """Whether the current event reached the runtime (if not, it can safely go elsewhere)."""
        return self._queued is None and self._outcome is not None

    def close(self) -> None:
        for conn in list(self.connections):
            conn.abort()
        self.connections.clear()

    def protocol(self) -> HandlerConnection:
        """A protocol factory for the sandbox's listening socket."""
        conn = HandlerConnection(self.handle, _body_limit, self.connections, cut=self._cut)
        self.connections.add(conn)  # from now on, so that close() reaches it even before its accept
        return conn

    # the runtime's side
    def handle(self, request: Request, reply: Reply) -> None:
        path, method = request.path, request.method
        if path == NEXT and method == "GET":
            self._next(reply)
        elif path.startswith(INVOCATION) and method == "POST":
            request_id, _, action = path[len(INVOCATION) :].partition("/")
            if action == "response":
                self._response(request_id, request, reply)
            elif action == "error":
                self._error(request_id, request, reply)
            else:
                reply.send(404)
        elif path == INIT_ERROR and method == "POST":
            self._init_error(request, reply)
        elif path == "/2020-08-15/logs" and method == "PUT":
            _stub(reply, "Logs.NotSupported", "Logs API is not supported")
        elif path == "/2022-07-01/telemetry" and method == "PUT":
            _stub(reply, "Telemetry.NotSupported", "Telemetry API is not supported")
        elif path == "/ping" and method == "GET":
            reply.send(200, b"pong")
        else:
            # Extensions API and anything else: as the emulator with extensions disabled.
            reply.send(404)

    def _move(self, target: RuntimeState, reply: Reply) -> bool:
        try:
            self.state = runtime_transition(self.state, target)
        except InvalidStateTransition as exc:
            message = (
                f"State transition from {exc.current.value} to {target.value} failed for runtime. "
                "Error: State transition is not allowed"
            )
            body = json.dumps({"errorMessage": message, "errorType": "InvalidStateTransition"}).encode()
            reply.send(403, body, _JSON)
            return False
        return True

    def _next(self, reply: Reply) -> None:
        if not self._move(RuntimeState.READY, reply):
            return
        self._waiter = reply
        if not self.ready.done():
            self.ready.set_result(None)
        if self._queued is not None:
            self._deliver()

    def _deliver(self) -> None:
        event, waiter = self._queued, self._waiter
        assert event is not None and waiter is not None
        if not waiter.open:
            return  # the runtime hung up; keep the event for its next /next
        self.state = runtime_transition(self.state, RuntimeState.RUNNING)
        self._queued, self._waiter = None, None
        self._current_id = event.request_id
        waiter.send(200, event.payload, event.headers())

    def _check_id(self, request_id: str, reply: Reply) -> bool:
        if not request_id or request_id != self._current_id:
            reply.send(400, _INVALID_ID, _JSON)
            return False
        return True

    def _finish(self, outcome: Outcome) -> None:
        self.state = runtime_transition(self.state, RuntimeState.RESPONSE_SENT)
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result(outcome)

    def _response(self, request_id: str, request: Request, reply: Reply) -> None:
        if not self._check_id(request_id, reply) or not self._move(RuntimeState.INVOCATION_RESPONSE, reply):
            return
        mode = request.headers.get("lambda-runtime-function-response-mode")
        if mode is not None and mode != "streaming":
            self._finish(platform_error(INVALID_RESPONSE_MODE, "Invalid function response mode"))
            body = {
                "errorMessage": "Invalid function response mode",
                "errorType": "InvalidFunctionResponseMode",
            }
            reply.send(400, json.dumps(body).encode(), _JSON)
            return
        if request.truncated:
            self._finish(response_too_large(request.size))
            reply.send(413, _TOO_LARGE, _JSON)
            return
        content_type = request.headers.get("content-type") or "application/json"
        self._finish(Success(request.body, content_type))
        self._accept(reply)

    def _accept(self, reply: Reply) -> None:
        """The 202 to a runtime's answer. While the loop has its core promptly (`CoreWait`), it goes out
        after the caller's answer: the task that writes that answer was woken first, and the 202 waits for
        the loop's next turn, so the caller is woken before the runtime, which shares the other cores with
        it. While the loop waits for its core, the 202 goes out at once: the runtime turns around (its next
        /next) while the loop renders the caller's answer, rather than after the loop's next wait for a core
        (docs/design/warm-invoke.md, "Which write first")."""
        if self._core is not None and self._core.prompt:
            self._loop.call_soon(reply.send, 202, _ACCEPTED, _JSON)
        else:
            reply.send(202, _ACCEPTED, _JSON)

    def _cut(self, request: Request) -> None:
        """The runtime hung up within its /response body (closed, or its process died): the invocation
        fails now with Runtime.TruncatedResponse, as RAPID's does, not at its timeout."""
        if request.method != "POST" or not request.path.startswith(INVOCATION):
            return
        request_id, _, action = request.path[len(INVOCATION) :].partition("/")
        if action != "response" or request_id != self._current_id or self.state is not RuntimeState.RUNNING:
            return
        self.state = runtime_transition(self.state, RuntimeState.INVOCATION_RESPONSE)
        self._finish(truncated_response(request_id))

    def _error(self, request_id: str, request: Request, reply: Reply) -> None:
        if not self._check_id(request_id, reply):
            return
        if not self._move(RuntimeState.INVOCATION_ERROR_RESPONSE, reply):
            return
        self._finish(_function_error(request))
        self._accept(reply)

    def _init_error(self, request: Request, reply: Reply) -> None:
        if not self._move(RuntimeState.INIT_ERROR, reply):
            return
        if not self.init_failed.done():
            self.init_failed.set_result(_function_error(request))
        reply.send(202, _ACCEPTED, _JSON)


def _function_error(request: Request) -> FunctionError:
    """The error a runtime posted, as the caller will see it (X-Ray error cause stripped)."""
    error_type = valid_error_type(request.headers.get("lambda-runtime-function-error-type"))
    body = request.body
    if request.headers.get("content-type", "").startswith(ERROR_CAUSE_TYPE):
        try:
            parsed = json_depth.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            parsed.pop("errorCause", None)
            body = json.dumps(parsed).encode()
    return FunctionError(error_type, body)


def _body_limit(method: str, path: str) -> int:
    return MAX_RESPONSE_BYTES if path.endswith("/response") else _SMALL_BODY


def _stub(reply: Reply, error_type: str, message: str) -> None:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    reply.send(202, body, _JSON)
