"""Who may do what: IAM and STS, the keyring that tells who signed a request, the authorizer and its action
tables, and the checks other parts ask of a role or a resource policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lambkin.api.apigw_actions import apigw_actions
from lambkin.api.authorize import ActionTable
from lambkin.api.cloudwatch_actions import cloudwatch_actions
from lambkin.api.events_actions import events_actions
from lambkin.api.iam_actions import iam_actions, sts_actions
from lambkin.api.iam_api import handlers as iam_handlers
from lambkin.api.lambda_actions import lambda_actions
from lambkin.api.logs_actions import logs_actions
from lambkin.api.scheduler_actions import scheduler_actions
from lambkin.api.sqs_actions import sqs_actions
from lambkin.api.sts_api import sts_handlers
from lambkin.cluster import Bus
from lambkin.config import Settings
from lambkin.events.bridge.outlets import Permitted
from lambkin.functions.control import ControlPlane
from lambkin.functions.service import RoleCheck
from lambkin.identity.authorizer import Authorizer
from lambkin.identity.directory import Directory
from lambkin.identity.execution_roles import lambda_can_assume
from lambkin.identity.iam import Iam
from lambkin.identity.iam_documents import check_document
from lambkin.identity.keys import Keyring
from lambkin.identity.principals import service as service_principal
from lambkin.identity.sts import Sts
from lambkin.invoke.async_destinations import function_of
from lambkin.protocol.model import service_index
from lambkin.queues.service import QueueService
from lambkin.store import Store
from lambkin.wiring.parts import Part


@dataclass(frozen=True, kw_only=True)
class IamPart(Part):
    iam: Iam
    role_check: RoleCheck


def iam(settings: Settings, db: Store, bus: Bus) -> IamPart:
    """IAM's roles, users, keys and policies (loaded from the database, and read again as other nodes
    change them: the bus's news), the IAM API, and the check that Lambda may assume a function's role."""
    service = Iam(db, settings.account_id, check_document, bus=bus)
    service.load()
    return IamPart(
        iam=service,
        role_check=lambda_can_assume(service),
        handlers={"iam": iam_handlers(service)},
        background=(service.refresh.run,),
    )


@dataclass(frozen=True, kw_only=True)
class IdentityPart(Part):
    directory: Directory
    keys: Keyring
    sts: Sts


def identity(settings: Settings, directory: Directory) -> IdentityPart:
    """Who signs a request (the keyring: the server's key is the account root, IAM users' keys, temporary
    credentials), and STS, whose sessions those temporary credentials are."""
    keys = Keyring(settings.credentials, settings.account_id, directory)
    sts = Sts(directory, keys.sessions, duration_scale=settings.session_duration_scale)
    return IdentityPart(directory=directory, keys=keys, sts=sts, handlers={"sts": sts_handlers(sts)})


@dataclass(frozen=True, kw_only=True)
class AuthorizationPart(Part):
    authorizer: Authorizer


def authorization(settings: Settings, directory: Directory) -> AuthorizationPart:
    """Who may do what: the authorizer over IAM's directory (the account root, the server's key pair, is
    never asked about)."""
    return AuthorizationPart(authorizer=Authorizer(directory, settings.account_id))


def resource_policy(plane: ControlPlane, queues: QueueService) -> Callable[[str], str | None]:
    """The own policy of a function (by its ARN, qualified or not) or of a lambkin queue."""

    def policy(resource: str) -> str | None:
        if resource.split(":")[2:3] == ["lambda"]:
            name, qualifier = function_of(resource)
            return plane.policies.text(name, qualifier)
        queue = queues.registry.queues.get(queues.registry.name_of_arn(resource) or "")
        return None if queue is None else queue.config.policy

    return policy


def service_may(
    principal: str, account_id: str, plane: ControlPlane, queues: QueueService, authorizer: Authorizer
) -> Permitted:
    """Whether an AWS service (`principal`: events.amazonaws.com) may do an action on a function or queue,
    for a rule: as AWS asks, by the function's (or queue's) own policy, with aws:SourceArn and
    aws:SourceAccount."""
    acting = service_principal(principal)
    policy = resource_policy(plane, queues)

    def permitted(action: str, resource: str, source_arn: str) -> bool:
        keys = (("aws:SourceArn", source_arn), ("aws:SourceAccount", account_id))
        return authorizer.refusal(acting, action, resource, policy(resource), keys) is None

    return permitted


def action_tables(settings: Settings, plane: ControlPlane, queues: QueueService) -> dict[str, ActionTable]:
    """The IAM action of every operation of the services lambkin serves, by service (IAM's and STS's for
    every operation of their models, whichever of them are served)."""
    return {
        "lambda": lambda_actions(plane.arns, plane.policies),
        "sqs": sqs_actions(queues.registry),
        "logs": logs_actions(),
        "cloudwatch": cloudwatch_actions(),
        "events": events_actions(),
        "scheduler": scheduler_actions(),
        "iam": iam_actions(settings.account_id, service_index("iam").operations),
        "sts": sts_actions(service_index("sts").operations),
        "apigatewayv2": apigw_actions(service_index("apigatewayv2").operations.values()),
    }
