"""Who may use the registry, and for what: basic auth with an access key, and each request as the `ecr:`
action AWS names for it on the repository's ARN, decided by the one authorizer.

The user name is an access key ID and the password its secret: the server's own pair (the account root) or
an IAM user's. Pulls are `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer`, pushes
`ecr:BatchCheckLayerAvailability`, `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart`,
`ecr:CompleteLayerUpload` and `ecr:PutImage`, as ECR's own documentation lists them for docker and skopeo.

The managed runtimes' repositories (`lambkin-runtimes/NAME`, written by `lambkin runtimes build`) are
lambkin's, as AWS's base images are AWS's: anyone allowed may pull them or tag more images there, no one
may delete from them (zip functions run on the digests recorded there; a delete would strand them).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from lambkin.identity.authorizer import Authorizer
from lambkin.identity.keys import Keyring
from lambkin.identity.principals import Principal
from lambkin.images.errors import Denied, Unauthorized
from lambkin.runtimes.catalog import REPOSITORY_PREFIX as RUNTIMES

# (route, method) -> the ecr: action; routes are registry.py's: upload, blob, manifest, tags, referrers.
ACTIONS: Mapping[tuple[str, str], str] = {
    ("upload", "POST"): "ecr:InitiateLayerUpload",
    ("upload", "GET"): "ecr:UploadLayerPart",
    ("upload", "PATCH"): "ecr:UploadLayerPart",
    ("upload", "PUT"): "ecr:CompleteLayerUpload",
    ("upload", "DELETE"): "ecr:UploadLayerPart",
    ("blob", "GET"): "ecr:GetDownloadUrlForLayer",
    ("blob", "HEAD"): "ecr:BatchCheckLayerAvailability",
    ("blob", "DELETE"): "ecr:BatchDeleteImage",
    ("manifest", "GET"): "ecr:BatchGetImage",
    ("manifest", "HEAD"): "ecr:BatchGetImage",
    ("manifest", "PUT"): "ecr:PutImage",
    ("manifest", "DELETE"): "ecr:BatchDeleteImage",
    ("tags", "GET"): "ecr:ListImages",
    ("referrers", "GET"): "ecr:BatchGetImage",
}
DELETE_ACTION = "ecr:BatchDeleteImage"
CATALOG_ACTION = "ecr:DescribeRepositories"  # /v2/_catalog, on "*"
MOUNT_SOURCE_ACTION = "ecr:GetDownloadUrlForLayer"  # a cross-repository mount reads the source repository


class RegistryAccess:
    """Authenticates a registry request's basic auth and authorizes its ecr: action."""

    def __init__(self, keys: Keyring, authorizer: Authorizer, region: str, account_id: str) -> None:
        self.keys = keys
        self.authorizer = authorizer
        self.region = region
        self.account_id = account_id

    def caller(self, authorization: str | None) -> Principal:
        """Who signs in with this Authorization header; Unauthorized (401) for anyone else."""
        if not authorization:
            raise Unauthorized("authentication required: use an access key ID and its secret")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthorized(f"unsupported authorization scheme {scheme!r}: use HTTP basic auth")
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed basic authorization header") from None
        key = self.keys(user, None) if user else None
        if key is None or not hmac.compare_digest(password.encode(), key.secret.encode()):
            raise Unauthorized("invalid credentials: use an access key ID and its secret")
        return key.caller

    def check(self, caller: Principal, action: str, repository: str | None) -> None:
        """Returns if the caller may do `action` on the repository (None: on "*"); Denied (403) otherwise."""
        if action == DELETE_ACTION and repository is not None and repository.startswith(RUNTIMES):
            raise Denied(
                f"{repository} holds a managed runtime's image: no one may delete from it "
                "(`lambkin runtimes build` writes it)"
            )
        resource = self.repository_arn(repository) if repository is not None else "*"
        refusal = self.authorizer.refusal(caller, action, resource)
        if refusal is not None:
            raise Denied(refusal)

    def repository_arn(self, repository: str) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account_id}:repository/{repository}"
