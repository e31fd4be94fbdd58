"""Function URLs and HTTP APIs of every region served: a request reaches the region its URL names
(docs/design/regions.md).

The host form names the region (`<id>.lambda-url.<region>.…`, `<id>.execute-api.<region>.…`); the path
form (`/lambda-url/<id>/`, `/execute-api/<id>/`) does not, so the region that knows the id answers (ids are
random, so at most one does); a request naming no region that knows it, the home region's app refuses as
it always did.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from lambkin.api.asgi import ASGIApp, Receive, Scope, Send, header

Knows = Callable[[str], Awaitable[bool]]  # whether a region has the URL id or API id


@dataclass(frozen=True)
class Face:
    """One region's app for the surface, and its question about ids."""

    app: ASGIApp
    knows: Knows


class RegionalFace:
    """One HTTP surface (function URLs or HTTP APIs) over each region's app; `host` finds the id and region
    in a Host name, `prefix` the id in a path."""

    def __init__(self, faces: Mapping[str, Face], home: str, host: re.Pattern[str], prefix: str) -> None:
        self.faces = dict(faces)
        self.home = self.faces[home]
        self._host = host
        self._prefix = prefix

    async def face_for(self, scope: Scope) -> Face:
        name = (header(scope, b"host") or "").split(":", 1)[0].lower()
        path = str(scope.get("path", ""))
        found = self._host.match(name + ".")
        if found is not None and not path.startswith(self._prefix):
            return self.faces.get(found.group(2), self.home)
        if not path.startswith(self._prefix):
            return self.home
        wanted = path[len(self._prefix) :].partition("/")[0]
        for face in self.faces.values():
            if wanted and await face.knows(wanted):
                return face
        return self.home

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        face = await self.face_for(scope)
        await face.app(scope, receive, send)
