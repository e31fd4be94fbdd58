"""The built-in OCI registry on /v2/: routing, basic auth, error rendering, manifests, tags and catalog."""

from __future__ import annotations

import errno
import json
import logging
import re
from urllib.parse import parse_qsl, quote

from lambkin.api.asgi import Message, Receive, Scope, Send, read_body, respond
from lambkin.api.registry_access import ACTIONS, CATALOG_ACTION, MOUNT_SOURCE_ACTION, RegistryAccess
from lambkin.api.registry_blobs import BlobHandlers
from lambkin.api.registry_http import API_VERSION, Handler, Headers, Request, render_error, send_json
from lambkin.api.registry_relay import UploadRelay
from lambkin.identity.principals import Principal
from lambkin.images.blobs import BlobStore
from lambkin.images.catalog import Catalog, check_repository
from lambkin.images.errors import (
    ManifestInvalid,
    PaginationNumberInvalid,
    RegistryError,
    Unavailable,
    UnknownEndpoint,
    Unsupported,
)
from lambkin.images.manifests import MAX_MANIFEST_BYTES, OCI_INDEX
from lambkin.images.uploads import Uploads
from lambkin.store import StorageFull, StoreUnavailable

MAX_PAGE = 10_000
log = logging.getLogger("lambkin.registry")

_UPLOAD = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]*)$")
_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)$")
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$")
_TAGS = re.compile(r"^/v2/(?P<name>.+)/tags/list$")
_REFERRERS = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)$")
# API Gateway v2's paths share the /v2/ prefix: /v2/apis..., /v2/tags/..., /v2/domainnames...
_APIGATEWAY = frozenset({"apis", "tags", "domainnames", "vpclinks", "portals", "portalproducts"})


def registry_paths(scope: Scope) -> bool:
    """Whether a request is the registry's: under /v2/, except API Gateway v2's paths (a repository whose
    name starts with one of their first segments is still the registry's, by its manifests, blobs, tags or
    referrers path)."""
    path: str = scope.get("path", "")
    if path != "/v2" and not path.startswith("/v2/"):
        return False
    if path[4:].split("/", 1)[0] not in _APIGATEWAY:
        return True
    return any(pattern.match(path) for pattern in (_UPLOAD, _BLOB, _MANIFEST, _TAGS, _REFERRERS))


class RegistryApp:
    """ASGI app for the OCI distribution spec. Every request signs in with an access key (basic auth), and
    its policies must allow the request's ecr: action on the repository (registry_access.py)."""

    def __init__(
        self,
        catalog: Catalog,
        uploads: Uploads,
        blobs: BlobStore,
        access: RegistryAccess,
        relay: UploadRelay | None = None,
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.access = access
        blob_handlers = BlobHandlers(catalog, uploads, blobs, relay)
        self._routes: list[tuple[str, re.Pattern[str], dict[str, Handler]]] = [
            ("upload", _UPLOAD, blob_handlers.upload_routes()),
            ("blob", _BLOB, blob_handlers.blob_routes()),
            ("manifest", _MANIFEST, {"GET": self.get_manifest, "HEAD": self.get_manifest,
                                     "PUT": self.put_manifest, "DELETE": self.delete_manifest}),
            ("tags", _TAGS, {"GET": self.list_tags}),
            ("referrers", _REFERRERS, {"GET": self.list_referrers}),
        ]  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        request = Request(
            scope, receive, method, scope["path"], dict(parse_qsl(scope.get("query_string", b"").decode()))
        )
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            if message["type"] == "http.response.start":
                message["headers"] = [API_VERSION, *message.get("headers", ())]
            await send(message)

        try:
            caller = self.access.caller(request.header(b"authorization"))
            await self.dispatch(request, tracked, caller)
        except RegistryError as exc:
            if started:
                raise
            await render_error(tracked, exc, head=method == "HEAD")
        except ConnectionError:
            return  # the client went away mid-request; what it sent is already cut back off
        except Exception as exc:
            full = self._unavailable(exc)
            if full is not None:
                log.warning("registry: %s %s: %s", method, request.path, full.message)
            else:
                log.exception("registry: %s %s failed", method, request.path)
            if started:
                raise
            problem = full or RegistryError(f"internal error: {exc}")
            await render_error(tracked, problem, head=method == "HEAD")

    def _unavailable(self, exc: Exception) -> Unavailable | None:
        """A full disk, or the database away, as the registry's retryable 503: whatever the request wrote was
        cut back or removed (uploads.py, blobs.py), and a database write was rolled back (StorageFull,
        StoreUnavailable)."""
        if isinstance(exc, StorageFull | StoreUnavailable):
            return Unavailable(exc.message)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Unavailable(
                f"The disk holding {self.blobs.root} is full: this request's data could not be stored, and "
                "none of it was kept. Retry once space is freed on that disk."
            )
        return None

    async def dispatch(self, request: Request, send: Send, caller: Principal) -> None:
        path = request.path
        if path in ("/v2", "/v2/"):
            if request.method not in ("GET", "HEAD"):
                raise Unsupported(f"{request.method} is not supported on /v2/")
            await send_json(send, 200, {}, head=request.method == "HEAD")
            return
        if path == "/v2/_catalog":
            self.access.check(caller, CATALOG_ACTION, None)
            await self.list_repositories(request, send)
            return
        for route, pattern, handlers in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            params = match.groupdict()
            check_repository(params["name"])
            handler = handlers.get(request.method)
            if handler is None:
                raise Unsupported(f"{request.method} is not supported on {path}")
            self.access.check(caller, ACTIONS[route, request.method], params["name"])
            source = request.query.get("from")
            if route == "upload" and request.method == "POST" and source:
                check_repository(source)
                self.access.check(caller, MOUNT_SOURCE_ACTION, source)
            await handler(request, send, params)
            return
        raise UnknownEndpoint(f"no registry endpoint at {path}")

    async def get_manifest(self, request: Request, send: Send, params: dict[str, str]) -> None:
        stored = await self.catalog.get_manifest(params["name"], params["reference"])
        headers: Headers = [
            (b"content-type", stored.media_type.encode()),
            (b"docker-content-digest", stored.digest.encode()),
            (b"etag", f'"{stored.digest}"'.encode()),
            (b"content-length", str(len(stored.raw)).encode()),
        ]
        await respond(send, 200, b"" if request.method == "HEAD" else stored.raw, headers)

    async def put_manifest(self, request: Request, send: Send, params: dict[str, str]) -> None:
        name = params["name"]
        try:
            raw = await read_body(request.receive, limit=MAX_MANIFEST_BYTES)
        except ValueError:
            raise ManifestInvalid(f"manifest larger than {MAX_MANIFEST_BYTES} bytes") from None
        digest = await self.catalog.put_manifest(
            name, params["reference"], raw, request.header(b"content-type")
        )
        log.info("registry: pushed %s:%s (%s)", name, params["reference"], digest)
        headers: Headers = [
            (b"location", f"/v2/{name}/manifests/{digest}".encode()),
            (b"docker-content-digest", digest.encode()),
        ]
        subject = json.loads(raw).get("subject")  # already validated by the catalog
        if isinstance(subject, dict):
            headers.append((b"oci-subject", str(subject["digest"]).encode()))
        await respond(send, 201, b"", headers)

    async def delete_manifest(self, request: Request, send: Send, params: dict[str, str]) -> None:
        await self.catalog.delete_manifest(params["name"], params["reference"])
        log.info("registry: deleted %s:%s", params["name"], params["reference"])
        await respond(send, 202)

    async def list_tags(self, request: Request, send: Send, params: dict[str, str]) -> None:
        name = params["name"]
        limit, last = _page(request)
        tags = await self.catalog.tags(name, last, None if limit is None else limit + 1)
        page, link = _paginate(tags, limit, f"/v2/{name}/tags/list")
        await send_json(send, 200, {"name": name, "tags": page}, link=link)

    async def list_referrers(self, request: Request, send: Send, params: dict[str, str]) -> None:
        artifact_type = request.query.get("artifactType") or None
        found = await self.catalog.referrers(params["name"], params["digest"], artifact_type)
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor.to_json() for descriptor in found],
        }
        body = json.dumps(index).encode()
        headers: Headers = [
            (b"content-type", OCI_INDEX.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if artifact_type is not None:
            headers.append((b"oci-filters-applied", b"artifactType"))
        await respond(send, 200, body, headers)

    async def list_repositories(self, request: Request, send: Send) -> None:
        if request.method != "GET":
            raise Unsupported(f"{request.method} is not supported on /v2/_catalog")
        limit, last = _page(request)
        names = await self.catalog.repositories(last, None if limit is None else limit + 1)
        page, link = _paginate(names, limit, "/v2/_catalog")
        await send_json(send, 200, {"repositories": page}, link=link)


def _page(request: Request) -> tuple[int | None, str | None]:
    raw_n = request.query.get("n")
    limit = None
    if raw_n is not None:
        if not raw_n.isdigit() or int(raw_n) > MAX_PAGE:
            raise PaginationNumberInvalid(f"n must be an integer from 0 to {MAX_PAGE}, not {raw_n!r}")
        limit = int(raw_n)
    return limit, request.query.get("last") or None


def _paginate(items: list[str], limit: int | None, base: str) -> tuple[list[str], str | None]:
    if limit is None or len(items) <= limit:
        return items, None
    if limit == 0:
        return [], None
    page = items[:limit]
    return page, f'<{base}?n={limit}&last={quote(page[-1], safe="")}>; rel="next"'
