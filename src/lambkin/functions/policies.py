"""Function policies: the resource-based policy of a function, version or alias (AddPermission,
RemovePermission, GetPolicy), stored in the database and held in memory for the authorizer's synchronous reads
(each write announced on the bus, so every node's copy reloads that function's policies)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lambkin.cluster.bus import Bus, SoloBus
from lambkin.cluster.refresh import Refresh
from lambkin.functions.errors import FunctionNotFound, FunctionsError, InvalidParameterValue, ResourceConflict
from lambkin.functions.lookup import Lookup, check_revision
from lambkin.functions.model import LATEST
from lambkin.functions.names import Arns, FunctionRef
from lambkin.functions.repository import FunctionRepository
from lambkin.store import Connection, Migration, Store

TOPIC = "function-policies"  # the bus's topic: a function's policies (any qualifier's) changed

# Namespace "policies" sorts after "functions", so the table its foreign key names exists first.
MIGRATIONS = [
    Migration(
        "policies",
        1,
        """
        CREATE TABLE function_policies (
            function_name TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
            qualifier TEXT NOT NULL,
            policy TEXT NOT NULL,
            PRIMARY KEY (function_name, qualifier)
        )
        """,
    )
]

MAX_POLICY_BYTES = 20_480
NO_RESOURCE = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
_ACCOUNT = re.compile(r"[0-9]{12}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")


class PolicyLengthExceeded(FunctionsError):
    code = "PolicyLengthExceededException"


@dataclass(frozen=True)
class Permission:
    """AddPermission's grant: who (`principal`, as the request names it) may do `action`, and when."""

    statement_id: str
    action: str
    principal: str
    source_arn: str | None = None
    source_account: str | None = None
    event_source_token: str | None = None
    principal_org_id: str | None = None
    function_url_auth_type: str | None = None
    invoked_via_function_url: bool = False


def _principal(raw: str) -> str | dict[str, str]:
    if raw == "*":
        return "*"
    if _ACCOUNT.fullmatch(raw):
        return {"AWS": f"arn:aws:iam::{raw}:root"}
    if raw.startswith("arn:aws:iam::") or raw.startswith("arn:aws:sts::"):
        return {"AWS": raw}
    if _SERVICE.fullmatch(raw):
        return {"Service": raw}
    raise InvalidParameterValue(
        "The provided principal was invalid. Please check the principal and try again."
    )


def statement(permission: Permission, resource: str) -> dict[str, Any]:
    """The statement Lambda writes for a permission, its members in Lambda's order."""
    equals: dict[str, str] = {}
    if permission.source_account:
        equals["AWS:SourceAccount"] = permission.source_account
    if permission.event_source_token:
        equals["lambda:EventSourceToken"] = permission.event_source_token
    if permission.principal_org_id:
        equals["aws:PrincipalOrgID"] = permission.principal_org_id
    if permission.function_url_auth_type:
        equals["lambda:FunctionUrlAuthType"] = permission.function_url_auth_type
    condition: dict[str, Any] = {}
    if equals:
        condition["StringEquals"] = equals
    if permission.source_arn:
        condition["ArnLike"] = {"AWS:SourceArn": permission.source_arn}
    if permission.invoked_via_function_url:
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    out: dict[str, Any] = {
        "Sid": permission.statement_id,
        "Effect": "Allow",
        "Principal": _principal(permission.principal),
        "Action": permission.action,
        "Resource": resource,
    }
    if condition:
        out["Condition"] = condition
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class FunctionPolicies:
    """Each function's, version's and alias's policy document; `text()` answers from memory, without I/O."""

    def __init__(self, db: Store, arns: Arns, bus: Bus | None = None) -> None:
        self.db = db
        self.arns = arns
        self.bus: Bus = bus or SoloBus()
        self.lookup = Lookup(arns, FunctionRepository())
        self._texts: dict[tuple[str, str], str] = dict(db.run_sync(lambda conn: _read(conn, None)))
        self.refresh = Refresh(self.bus, TOPIC, self.reload)

    async def reload(self, names: frozenset[str] | None) -> None:
        """Reads the policies of the functions `names` (None: of every function) again."""
        texts = await self.db.run(lambda conn: _read(conn, names))
        if names is None:
            self._texts = dict(texts)
            return
        for key in [k for k in self._texts if k[0] in names]:
            del self._texts[key]
        self._texts.update(texts)

    def text(self, name: str, qualifier: str | None) -> str | None:
        """The policy document of the function (qualifier None), version or alias, if it has one."""
        return self._texts.get((name, qualifier or ""))

    def _revision(self, conn: Connection, ref: FunctionRef) -> str:
        """The RevisionId of what `ref` names (it must exist): the version's, or the alias's."""
        version, alias = self.lookup.qualified(conn, ref)
        return alias.revision_id if alias is not None else version.revision_id

    def _stored(self, conn: Connection, ref: FunctionRef) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT policy FROM function_policies WHERE function_name = ? AND qualifier = ?",
            (ref.name, ref.qualifier or ""),
        ).fetchone()
        return None if row is None else dict(json.loads(row["policy"]))

    def _store(self, conn: Connection, ref: FunctionRef, document: dict[str, Any] | None) -> str | None:
        key = (ref.name, ref.qualifier or "")
        self.bus.announce(conn, TOPIC, ref.name)
        if document is None or not document["Statement"]:
            conn.execute("DELETE FROM function_policies WHERE function_name = ? AND qualifier = ?", key)
            return None
        text = _dumps(document)
        size = len(text.encode())
        if size > MAX_POLICY_BYTES:
            raise PolicyLengthExceeded(
                f"The final policy size ({size}) is bigger than the limit ({MAX_POLICY_BYTES})."
            )
        conn.execute(
            "INSERT INTO function_policies (function_name, qualifier, policy) VALUES (?, ?, ?)"
            " ON CONFLICT (function_name, qualifier) DO UPDATE SET policy = excluded.policy",
            (*key, text),
        )
        return text

    def _remember(self, ref: FunctionRef, text: str | None) -> None:
        key = (ref.name, ref.qualifier or "")
        if text is None:
            self._texts.pop(key, None)
        else:
            self._texts[key] = text

    async def add(self, ref: FunctionRef, permission: Permission, revision_id: str | None) -> str:
        """Adds the permission's statement to the policy of `ref`; returns the statement's JSON."""
        if ref.qualifier == LATEST:
            raise InvalidParameterValue("We currently do not support adding policies for $LATEST.")
        added = statement(permission, self.arns.of(ref))

        def write(conn: Connection) -> str | None:
            check_revision(revision_id, self._revision(conn, ref))
            document = self._stored(conn, ref) or {"Version": "2012-10-17", "Id": "default", "Statement": []}
            if any(s.get("Sid") == permission.statement_id for s in document["Statement"]):
                raise ResourceConflict(
                    f"The statement id ({permission.statement_id}) provided already exists. "
                    "Please provide a new statement id, or remove the existing statement."
                )
            document["Statement"].append(added)
            return self._store(conn, ref, document)

        self._remember(ref, await self.db.run(write))
        return _dumps(added)

    async def remove(self, ref: FunctionRef, statement_id: str, revision_id: str | None) -> None:
        """Removes statement `statement_id` from the policy of `ref` (the policy goes with its last one)."""

        def write(conn: Connection) -> str | None:
            check_revision(revision_id, self._revision(conn, ref))
            document = self._stored(conn, ref)
            if document is None:
                raise FunctionNotFound(NO_POLICY)
            kept = [s for s in document["Statement"] if s.get("Sid") != statement_id]
            if len(kept) == len(document["Statement"]):
                raise FunctionNotFound(f"Statement {statement_id} is not found in resource policy.")
            document["Statement"] = kept
            return self._store(conn, ref, document)

        self._remember(ref, await self.db.run(write))

    async def get(self, ref: FunctionRef) -> tuple[str, str]:
        """The policy document of `ref` and its RevisionId."""

        def read(conn: Connection) -> tuple[str, str]:
            revision = self._revision(conn, ref)
            document = self._stored(conn, ref)
            if document is None:
                raise FunctionNotFound(NO_RESOURCE)
            return _dumps(document), revision

        return await self.db.run(read)

    async def forget(self, ref: FunctionRef) -> None:
        """Drops the policies of a deleted function (every qualifier), version or alias."""

        def write(conn: Connection) -> None:
            self.bus.announce(conn, TOPIC, ref.name)
            if ref.qualifier is None:
                conn.execute("DELETE FROM function_policies WHERE function_name = ?", (ref.name,))
            else:
                conn.execute(
                    "DELETE FROM function_policies WHERE function_name = ? AND qualifier = ?",
                    (ref.name, ref.qualifier),
                )

        await self.db.run(write)
        for key in [k for k in self._texts if k[0] == ref.name and ref.qualifier in (None, k[1])]:
            del self._texts[key]


def _read(conn: Connection, names: frozenset[str] | None) -> list[tuple[tuple[str, str], str]]:
    """The stored policies of the functions `names` (None: every one), by (function, qualifier)."""
    select = "SELECT function_name, qualifier, policy FROM function_policies"
    if names is None:
        rows = conn.execute(select).fetchall()
    else:
        rows = []
        for name in sorted(names):
            rows += conn.execute(f"{select} WHERE function_name = ?", (name,)).fetchall()
    return [((row[0], row[1]), row[2]) for row in rows]
