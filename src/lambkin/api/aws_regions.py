"""The AWS APIs of every region served: each request answered by the gateway of the region its signature
is scoped to (docs/design/regions.md).

Only the credential scope's region is read here, with a few string searches (this is on the path of every
warm Invoke and SQS batch); the gateway verifies the whole signature as before. A request scoped to a
region not served, or not signed at all, goes to the home region's gateway, which refuses or answers it as
it always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from lambkin.api.asgi import Receive, Scope, Send
from lambkin.api.aws_asgi import AwsAsgi
from lambkin.protocol.gateway import AwsGateway

_CREDENTIAL = "Credential="
_PRESIGNED = "X-Amz-Credential="


def scoped_region(authorization: str | None, target: str) -> str | None:
    """The region of a SigV4 credential scope (`AKID/date/REGION/service/aws4_request`): the Authorization
    header's `Credential=`, else a presigned URL's `X-Amz-Credential` (`target` is the request's path and
    query). None when neither carries a well-formed scope."""
    if authorization is not None:
        at = authorization.find(_CREDENTIAL)
        if at < 0:
            return None
        start = at + len(_CREDENTIAL)
        end = authorization.find(",", start)
        credential = authorization[start:] if end < 0 else authorization[start:end]
    else:
        at = target.find(_PRESIGNED)
        if at < 0 or "?" not in target[:at]:
            return None
        start = at + len(_PRESIGNED)
        end = target.find("&", start)
        credential = unquote(target[start:] if end < 0 else target[start:end])
    parts = credential.strip().split("/")
    return parts[2] if len(parts) == 5 else None


class RegionalAws:
    """The AWS APIs as one ASGI app over each region's AwsAsgi; `pick` chooses a request's gateway."""

    def __init__(self, regions: Mapping[str, AwsAsgi], home: str) -> None:
        self.regions = dict(regions)
        self.home = self.regions[home]
        self.gateway = self.home.gateway  # the home region's (the console's, and a lone region's)
        self._gateways = {name: asgi.gateway for name, asgi in self.regions.items()}
        self._alone = len(self.regions) == 1

    def pick(self, headers: Mapping[str, str], target: str) -> AwsGateway:
        """The gateway of the region the request (its lower-case `headers`, its path and query) is signed for."""
        if self._alone:
            return self.gateway
        region = scoped_region(headers.get("authorization"), target)
        return self._gateways.get(region or "", self.gateway)

    def asgi_for(self, scope: Scope) -> AwsAsgi:
        if self._alone:
            return self.home
        authorization = None
        for key, value in scope.get("headers", ()):
            if bytes(key).lower() == b"authorization":
                authorization = bytes(value).decode("latin-1")
                break
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        region = scoped_region(authorization, f"?{query}" if query else "")
        return self.regions.get(region or "", self.home)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi_for(scope)(scope, receive, send)
