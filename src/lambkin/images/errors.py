"""The OCI distribution spec's error codes, as exceptions that carry their code and HTTP status.

    RegistryError                 code                   status
    ├── BlobUnknown               BLOB_UNKNOWN           404
    ├── BlobUploadInvalid         BLOB_UPLOAD_INVALID    400
    ├── BlobUploadUnknown         BLOB_UPLOAD_UNKNOWN    404
    ├── DigestInvalid             DIGEST_INVALID         400
    ├── ManifestBlobUnknown       MANIFEST_BLOB_UNKNOWN  400
    ├── ManifestInvalid           MANIFEST_INVALID       400
    ├── ManifestUnknown           MANIFEST_UNKNOWN       404
    │   └── NoMatchingPlatform    MANIFEST_UNKNOWN       404
    ├── NameInvalid               NAME_INVALID           400
    ├── NameUnknown               NAME_UNKNOWN           404
    ├── SizeInvalid               SIZE_INVALID           400
    ├── Unauthorized              UNAUTHORIZED           401
    ├── Unsupported               UNSUPPORTED            405
    │   ├── UnsupportedMediaType  UNSUPPORTED            415
    │   └── UnknownEndpoint       UNSUPPORTED            404
    ├── TagInvalid                TAG_INVALID            400
    ├── RangeInvalid              RANGE_INVALID          416
    ├── PaginationNumberInvalid   PAGINATION_NUMBER_INVALID 400
    └── Unavailable               UNAVAILABLE            503 (distribution's errcode, not in the OCI table)

They are domain errors: nothing here knows HTTP beyond the status number. `api/registry.py` renders them
as the spec's `{"errors": [{"code", "message", "detail"}]}` body.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RegistryError(Exception):
    """One distribution-spec error: a code, a status, a human message and optional detail."""

    code: ClassVar[str] = "UNKNOWN"
    status: ClassVar[int] = 500

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class BlobUnknown(RegistryError):
    code = "BLOB_UNKNOWN"
    status = 404


class BlobUploadInvalid(RegistryError):
    code = "BLOB_UPLOAD_INVALID"
    status = 400


class BlobUploadUnknown(RegistryError):
    code = "BLOB_UPLOAD_UNKNOWN"
    status = 404


class DigestInvalid(RegistryError):
    code = "DIGEST_INVALID"
    status = 400


class ManifestBlobUnknown(RegistryError):
    code = "MANIFEST_BLOB_UNKNOWN"
    status = 400


class ManifestInvalid(RegistryError):
    code = "MANIFEST_INVALID"
    status = 400


class ManifestUnknown(RegistryError):
    code = "MANIFEST_UNKNOWN"
    status = 404


class NoMatchingPlatform(ManifestUnknown):
    """An index has no entry for the platform asked for."""


class NameInvalid(RegistryError):
    code = "NAME_INVALID"
    status = 400


class NameUnknown(RegistryError):
    code = "NAME_UNKNOWN"
    status = 404


class SizeInvalid(RegistryError):
    code = "SIZE_INVALID"
    status = 400


class Unauthorized(RegistryError):
    code = "UNAUTHORIZED"
    status = 401


class Denied(RegistryError):
    """The caller is known but its policies do not allow this (the message is IAM's AccessDenied text)."""

    code = "DENIED"
    status = 403


class Unsupported(RegistryError):
    code = "UNSUPPORTED"
    status = 405


class UnsupportedMediaType(Unsupported):
    """A manifest (or layer) media type lambkin does not handle, e.g. Docker schema 1."""

    status = 415


class TagInvalid(RegistryError):
    code = "TAG_INVALID"
    status = 400


class RangeInvalid(RegistryError):
    code = "RANGE_INVALID"
    status = 416


class PaginationNumberInvalid(RegistryError):
    code = "PAGINATION_NUMBER_INVALID"
    status = 400


class Unavailable(RegistryError):
    """The registry cannot serve this now and a retry may pass: a full disk, for lambkin."""

    code = "UNAVAILABLE"
    status = 503


class UnknownEndpoint(Unsupported):
    """A path under /v2/ that the distribution spec does not define."""

    status = 404
