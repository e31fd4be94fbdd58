"""The IAM API (query protocol): one handler per operation, wire input → identity's IAM services → output.

Outputs are shaped in iam_render.py (policy documents URL-encoded, as IAM sends them). IAM's errors
(`identity/iam_errors.py`) rise to the gateway, which renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lambkin.api import iam_render as render
from lambkin.identity import iam_errors as errors
from lambkin.identity.iam import Iam
from lambkin.identity.iam_attachments import Attachments
from lambkin.identity.iam_model import Kind, ManagedPolicy
from lambkin.identity.iam_policies import Policies
from lambkin.identity.iam_roles import Roles
from lambkin.identity.iam_users import Users
from lambkin.identity.principals import Principal
from lambkin.protocol.service import Handler, RequestContext

Input = dict[str, Any]
Output = dict[str, Any]


def handlers(iam: Iam) -> dict[str, Handler]:
    """The handler map for the gateway's "iam" entry."""
    roles, users, policies, attachments = Roles(iam), Users(iam), Policies(iam), Attachments(iam)

    def policy_out(p: ManagedPolicy) -> Output:
        return render.policy(p, iam.attachment_count(p.arn), iam.boundary_count(p.arn))

    # roles

    async def create_role(a: Input, c: RequestContext) -> Output:
        role = await roles.create(
            a["RoleName"],
            a["AssumeRolePolicyDocument"],
            path=a.get("Path") or "/",
            description=a.get("Description") or "",
            max_session_duration=a.get("MaxSessionDuration") or 3600,
            tags=_tag_pairs(a.get("Tags")),
            boundary=a.get("PermissionsBoundary") or "",
        )
        return {"Role": render.role(role, tags=True)}

    async def get_role(a: Input, c: RequestContext) -> Output:
        return {"Role": render.role(roles.get(a["RoleName"]), tags=True)}

    async def delete_role(a: Input, c: RequestContext) -> Output:
        await roles.delete(a["RoleName"])
        return {}

    async def list_roles(a: Input, c: RequestContext) -> Output:
        found, marker = roles.listing(a.get("PathPrefix"), a.get("Marker"), a.get("MaxItems"))
        return render.listing("Roles", [render.role(r, tags=False) for r in found], marker)

    async def update_assume_role_policy(a: Input, c: RequestContext) -> Output:
        await roles.update_trust_policy(a["RoleName"], a["PolicyDocument"])
        return {}

    async def tag_role(a: Input, c: RequestContext) -> Output:
        await roles.tag(a["RoleName"], _tag_pairs(a.get("Tags")))
        return {}

    async def untag_role(a: Input, c: RequestContext) -> Output:
        await roles.untag(a["RoleName"], a.get("TagKeys") or [])
        return {}

    async def list_role_tags(a: Input, c: RequestContext) -> Output:
        found, marker = roles.tags(a["RoleName"], a.get("Marker"), a.get("MaxItems"))
        return render.listing("Tags", render.tag_list(found), marker)

    # inline and attached policies, of roles and of users alike

    def inline(kind: Kind, key: str) -> dict[str, Handler]:
        async def put(a: Input, c: RequestContext) -> Output:
            await attachments.put_inline(kind, a[key], a["PolicyName"], a["PolicyDocument"])
            return {}

        async def get(a: Input, c: RequestContext) -> Output:
            document = attachments.get_inline(kind, a[key], a["PolicyName"])
            holder = iam.holder(kind, a[key])
            return {
                key: holder.name,
                "PolicyName": a["PolicyName"],
                "PolicyDocument": render.encoded(document),
            }

        async def delete(a: Input, c: RequestContext) -> Output:
            await attachments.delete_inline(kind, a[key], a["PolicyName"])
            return {}

        async def listing(a: Input, c: RequestContext) -> Output:
            names, marker = attachments.list_inline(kind, a[key], a.get("Marker"), a.get("MaxItems"))
            return render.listing("PolicyNames", names, marker)

        async def attach(a: Input, c: RequestContext) -> Output:
            await attachments.attach(kind, a[key], a["PolicyArn"])
            return {}

        async def detach(a: Input, c: RequestContext) -> Output:
            await attachments.detach(kind, a[key], a["PolicyArn"])
            return {}

        async def list_attached(a: Input, c: RequestContext) -> Output:
            found, marker = attachments.list_attached(
                kind, a[key], a.get("PathPrefix"), a.get("Marker"), a.get("MaxItems")
            )
            attached = [{"PolicyName": p.name, "PolicyArn": p.arn} for p in found]
            return render.listing("AttachedPolicies", attached, marker)

        async def put_boundary(a: Input, c: RequestContext) -> Output:
            await attachments.set_boundary(kind, a[key], a["PermissionsBoundary"])
            return {}

        async def delete_boundary(a: Input, c: RequestContext) -> Output:
            await attachments.set_boundary(kind, a[key], "")
            return {}

        noun = kind.capitalize()
        return {
            f"Put{noun}PermissionsBoundary": put_boundary,
            f"Delete{noun}PermissionsBoundary": delete_boundary,
            f"Put{noun}Policy": put,
            f"Get{noun}Policy": get,
            f"Delete{noun}Policy": delete,
            f"List{noun}Policies": listing,
            f"Attach{noun}Policy": attach,
            f"Detach{noun}Policy": detach,
            f"ListAttached{noun}Policies": list_attached,
        }

    # managed policies

    async def create_policy(a: Input, c: RequestContext) -> Output:
        policy = await policies.create(
            a["PolicyName"],
            a["PolicyDocument"],
            path=a.get("Path") or "/",
            description=a.get("Description") or "",
            tags=_tag_pairs(a.get("Tags")),
        )
        return {"Policy": policy_out(policy)}

    async def get_policy(a: Input, c: RequestContext) -> Output:
        return {"Policy": policy_out(policies.get(a["PolicyArn"]))}

    async def delete_policy(a: Input, c: RequestContext) -> Output:
        await policies.delete(a["PolicyArn"])
        return {}

    async def list_policies(a: Input, c: RequestContext) -> Output:
        found, marker = policies.listing(
            a.get("Scope") or "All",
            bool(a.get("OnlyAttached")),
            a.get("PathPrefix"),
            a.get("Marker"),
            a.get("MaxItems"),
        )
        return render.listing("Policies", [policy_out(p) for p in found], marker)

    async def create_policy_version(a: Input, c: RequestContext) -> Output:
        version = await policies.create_version(
            a["PolicyArn"], a["PolicyDocument"], bool(a.get("SetAsDefault"))
        )
        policy = policies.get(a["PolicyArn"])
        return {"PolicyVersion": render.version(version, policy, document=False)}

    async def get_policy_version(a: Input, c: RequestContext) -> Output:
        policy, version = policies.get_version(a["PolicyArn"], a["VersionId"])
        return {"PolicyVersion": render.version(version, policy, document=True)}

    async def list_policy_versions(a: Input, c: RequestContext) -> Output:
        policy, found, marker = policies.list_versions(a["PolicyArn"], a.get("Marker"), a.get("MaxItems"))
        return render.listing("Versions", [render.version(v, policy, document=False) for v in found], marker)

    async def delete_policy_version(a: Input, c: RequestContext) -> Output:
        await policies.delete_version(a["PolicyArn"], a["VersionId"])
        return {}

    async def set_default_policy_version(a: Input, c: RequestContext) -> Output:
        await policies.set_default_version(a["PolicyArn"], a["VersionId"])
        return {}

    # users and access keys

    def caller_user(a: Input, c: RequestContext) -> str:
        """The UserName given, else the calling user's own (IAM's default for the user operations)."""
        if a.get("UserName"):
            return str(a["UserName"])
        caller = c.caller
        if isinstance(caller, Principal) and caller.kind == "user":
            return caller.name
        raise errors.ValidationError("Must specify userName when calling with non-User credentials")

    async def create_user(a: Input, c: RequestContext) -> Output:
        user = await users.create(
            a["UserName"],
            path=a.get("Path") or "/",
            tags=_tag_pairs(a.get("Tags")),
            boundary=a.get("PermissionsBoundary") or "",
        )
        return {"User": render.user(user)}

    async def get_user(a: Input, c: RequestContext) -> Output:
        caller = c.caller
        if not a.get("UserName") and isinstance(caller, Principal) and caller.is_root:
            return {"User": {"UserId": caller.account, "Arn": caller.arn, "Path": "/"}}
        return {"User": render.user(users.get(caller_user(a, c)))}

    async def delete_user(a: Input, c: RequestContext) -> Output:
        await users.delete(a["UserName"])
        return {}

    async def list_users(a: Input, c: RequestContext) -> Output:
        found, marker = users.listing(a.get("PathPrefix"), a.get("Marker"), a.get("MaxItems"))
        return render.listing("Users", [render.user(u, tags=False) for u in found], marker)

    async def create_access_key(a: Input, c: RequestContext) -> Output:
        key = await users.create_key(caller_user(a, c))
        return {"AccessKey": {**render.key(key), "SecretAccessKey": key.secret}}

    async def delete_access_key(a: Input, c: RequestContext) -> Output:
        await users.delete_key(caller_user(a, c), a["AccessKeyId"])
        return {}

    async def update_access_key(a: Input, c: RequestContext) -> Output:
        await users.update_key(caller_user(a, c), a["AccessKeyId"], a["Status"] == "Active")
        return {}

    async def list_access_keys(a: Input, c: RequestContext) -> Output:
        caller = c.caller
        if not a.get("UserName") and isinstance(caller, Principal) and caller.is_root:
            return render.listing("AccessKeyMetadata", [], None)
        found, marker = users.keys(caller_user(a, c), a.get("Marker"), a.get("MaxItems"))
        return render.listing("AccessKeyMetadata", [render.key(k) for k in found], marker)

    return {
        "CreateRole": create_role,
        "GetRole": get_role,
        "DeleteRole": delete_role,
        "ListRoles": list_roles,
        "UpdateAssumeRolePolicy": update_assume_role_policy,
        "TagRole": tag_role,
        "UntagRole": untag_role,
        "ListRoleTags": list_role_tags,
        **inline("role", "RoleName"),
        **inline("user", "UserName"),
        "CreatePolicy": create_policy,
        "GetPolicy": get_policy,
        "DeletePolicy": delete_policy,
        "ListPolicies": list_policies,
        "CreatePolicyVersion": create_policy_version,
        "GetPolicyVersion": get_policy_version,
        "ListPolicyVersions": list_policy_versions,
        "DeletePolicyVersion": delete_policy_version,
        "SetDefaultPolicyVersion": set_default_policy_version,
        "CreateUser": create_user,
        "GetUser": get_user,
        "DeleteUser": delete_user,
        "ListUsers": list_users,
        "CreateAccessKey": create_access_key,
        "DeleteAccessKey": delete_access_key,
        "UpdateAccessKey": update_access_key,
        "ListAccessKeys": list_access_keys,
    }


def _tag_pairs(tags: Sequence[Mapping[str, str]] | None) -> list[tuple[str, str]]:
    return [(t["Key"], t.get("Value", "")) for t in tags or ()]
