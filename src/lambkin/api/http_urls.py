"""The URLs lambkin hands out for HTTP APIs and function URLs, and how a request's host or path names one.

Path form (the default: every client resolves it, no DNS set up): `<base>/execute-api/<api-id>` and
`<base>/lambda-url/<url-id>/`. Host form (wildcard DNS, LAMBKIN_HOST_URLS): `<api-id>.execute-api.<region>.
<base host>` and `<url-id>.lambda-url.<region>.<base host>`; with the default base, `localhost` names (curl
resolves them). Both forms are served whichever is handed out. `<base>` is LAMBKIN_PUBLIC_URL, else the
server's own endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

API_PREFIX = "/execute-api/"
URL_PREFIX = "/lambda-url/"
API_HOST = re.compile(r"^([a-z0-9]{10})\.execute-api\.([a-z0-9-]+)\.", re.ASCII)


@dataclass(frozen=True)
class PublicUrls:
    base: str  # scheme://host[:port], no trailing slash
    region: str
    host_form: bool = False

    @classmethod
    def of(cls, public_url: str | None, endpoint: str, region: str, host_form: bool) -> PublicUrls:
        base = (public_url or endpoint).rstrip("/")
        if public_url is None and host_form:
            parts = urlsplit(endpoint)
            base = f"{parts.scheme}://localhost:{parts.port}" if parts.port else f"{parts.scheme}://localhost"
        return cls(base, region, host_form)

    def _hosted(self, label: str) -> str:
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{label}.{self.region}.{parts.netloc}{parts.path}"

    def api(self, api_id: str) -> str:
        """An HTTP API's ApiEndpoint (its stages' URLs are this plus `/<stage>`, `$default` this alone)."""
        return self._hosted(f"{api_id}.execute-api") if self.host_form else f"{self.base}{API_PREFIX}{api_id}"

    def function_url(self, url_id: str) -> str:
        """A function URL (it ends in /, as Lambda's)."""
        if self.host_form:
            return self._hosted(f"{url_id}.lambda-url") + "/"
        return f"{self.base}{URL_PREFIX}{url_id}/"
