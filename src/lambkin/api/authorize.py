"""The gateway's Authorize hook: the IAM action and resource of each operation (from the services' action
tables), asked of the authorizer with the request's context; a refusal is the service's AccessDenied."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from lambkin.identity.principals import Principal
from lambkin.protocol import dialect
from lambkin.protocol.service import Authorize, RequestContext, Services

Keys = tuple[tuple[str, str], ...]


class Target(NamedTuple):
    """What an operation asks permission for: `action` ("lambda:InvokeFunction") on `resource` (an ARN, or
    "*"), the resource's own policy document if it has one, and the service's condition keys. (A named
    tuple: one is made per request, and a tuple is the cheapest record Python makes.)"""

    action: str
    resource: str
    policy: str | None = None
    keys: Keys = ()
    also: tuple[
        Target, ...
    ] = ()  # more permissions the operation needs (a function's layers: GetLayerVersion)


Rule = Callable[[dict[str, Any], RequestContext], Target | None]
"""An operation's Target from its parsed input; None: the operation needs no permission."""

ActionTable = Mapping[str, Rule]
"""One service's rules, by operation name."""


def fixed(action: str, resource: str = "*") -> Rule:
    """A rule whose action and resource do not depend on the request (ListFunctions on "*")."""
    target = Target(action, resource)
    return lambda arguments, context: target


def free(arguments: dict[str, Any], context: RequestContext) -> Target | None:
    """The rule of an operation anyone signed may call (sts:GetCallerIdentity)."""
    return None


class Decider(Protocol):
    """The authorizer as the hook asks it (identity/authorizer.py)."""

    def refusal(
        self,
        principal: Principal,
        action: str,
        resource: str,
        policy: str | None = None,
        keys: Keys = (),
        source_ip: str = "",
    ) -> str | None:
        """None if the principal may; else the AccessDenied message."""
        ...


def unmapped(tables: Mapping[str, ActionTable], services: Services) -> list[str]:
    """The served operations no action table maps, as "service.Operation"."""
    return sorted(
        f"{service}.{operation}"
        for service, handlers in services.items()
        for operation in handlers
        if operation not in tables.get(service, {})
    )


def build_authorize(decider: Decider, tables: Mapping[str, ActionTable], services: Services) -> Authorize:
    """The hook for a gateway serving `services`; every operation it serves must have a rule (else
    ValueError: an operation nobody authorizes would be open to every caller)."""
    missing = unmapped(tables, services)
    if missing:
        raise ValueError(f"operations without an IAM action: {', '.join(missing)}")
    rules = {
        (service, operation): rule for service, table in tables.items() for operation, rule in table.items()
    }

    def authorize(context: RequestContext, arguments: dict[str, Any]) -> None:
        principal = context.caller
        if not isinstance(principal, Principal):
            raise TypeError(f"the caller of a request is a Principal, not {type(principal).__name__}")
        if principal.is_root:
            return
        target = rules[context.service, context.operation](arguments, context)
        if target is None:
            return
        for needed in (target, *target.also):
            message = decider.refusal(
                principal,
                needed.action,
                needed.resource,
                needed.policy,
                needed.keys,
                context.source_ip,
            )
            if message is not None:
                raise dialect.access_denied(context.service, message)

    return authorize
