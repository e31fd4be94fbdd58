"""The console's way to do things: AWS operations called through the gateway as the signed-in principal (a
console session's caller), so a page can do exactly what that key can do through the API; an error the
operation answers becomes `Refused`, whose text the page shows."""

from __future__ import annotations

from typing import Any

from lambkin import ids, json_depth
from lambkin.api.console_sessions import Session
from lambkin.protocol.encode import Fragment
from lambkin.protocol.errors import AwsError
from lambkin.protocol.gateway import AwsGateway
from lambkin.protocol.service import Relay, RequestContext


class Refused(Exception):
    """An operation the console asked for failed: its AWS error's text is shown on the page."""


class Calls:
    """Operations called as a session's principal, in one region of this server."""

    def __init__(self, gateway: AwsGateway, region: str) -> None:
        self.gateway = gateway
        self.region = region

    async def call(
        self, session: Session, service: str, operation: str, params: dict[str, Any], missing_ok: bool = False
    ) -> dict[str, Any]:
        handler = self.gateway.services.get(service, {}).get(operation)
        if handler is None:
            raise Refused(f"{operation} is not available on this server.")
        context = RequestContext(
            service=service,
            operation=operation,
            region=self.region,
            account_id=self.gateway.account_id,
            access_key_id=session.access_key_id,
            caller=session.caller,
            request_id=ids.uuid4(),
            headers={},
            source_ip="console",
        )
        try:
            output = plain(await self.gateway.call(handler, params, context))
            assert isinstance(output, dict)
            return output
        except AwsError as failure:
            if missing_ok and failure.code == "ResourceNotFoundException":
                return {}
            raise Refused(failure.message) from failure
        except Relay as relay:
            raise Refused(
                f"This is served by another node of the cluster ({relay.url}): open its console."
            ) from None

    async def maybe(
        self, session: Session, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The operation's output, or None when it answers an error (no URL configured, no log group yet)."""
        try:
            return await self.call(session, service, operation, params)
        except Refused:
            return None


def plain(value: Any) -> Any:
    """An output with the parts a handler gave already encoded (Fragments of JSON text) decoded."""
    if isinstance(value, Fragment):
        return json_depth.loads(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
