"""The STS operations lambkin serves: GetCallerIdentity and AssumeRole, over identity/sts.py."""

from __future__ import annotations

from typing import Any

from lambkin.identity.principals import Principal
from lambkin.identity.sts import Sts, caller_identity, packed_size
from lambkin.protocol.service import Handler, RequestContext


def _principal(ctx: RequestContext) -> Principal:
    caller = ctx.caller
    assert isinstance(caller, Principal), "the keyring names every caller with a Principal"
    return caller


def sts_handlers(sts: Sts) -> dict[str, Handler]:
    async def get_caller_identity(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return caller_identity(_principal(ctx))

    async def assume_role(params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        issued = sts.assume_role(
            _principal(ctx),
            params["RoleArn"],
            params["RoleSessionName"],
            params.get("DurationSeconds"),
            ctx.source_ip,
            params.get("Policy") or "",
            [descriptor["arn"] for descriptor in params.get("PolicyArns") or () if descriptor.get("arn")],
        )
        session = issued.session
        assumed = session.principal()
        answer: dict[str, Any] = {
            "Credentials": {
                "AccessKeyId": issued.access_key_id,
                "SecretAccessKey": issued.secret_access_key,
                "SessionToken": issued.session_token,
                "Expiration": session.expiration,
            },
            "AssumedRoleUser": {"AssumedRoleId": assumed.user_id, "Arn": assumed.arn},
        }
        if assumed.has_session_policies:
            answer["PackedPolicySize"] = packed_size(session.policy, session.policy_arns)
        return answer

    return {"GetCallerIdentity": get_caller_identity, "AssumeRole": assume_role}
