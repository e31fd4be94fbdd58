"""Queue management: create, delete, look up, list, attributes, tags, purge, dead-letter sources.

Every node sharing the database holds every queue's metadata (name, attributes, policy, tags). Each change of
it is announced on the bus (topic `queues`, the queue's name) in the write's own transaction; the queue
service reads the row back on every node (`QueueService.reload`) and `apply`s it here, unless this node
changed that queue's metadata since the read began (its own news follows, and is read then).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from lambkin.clock import Clock
from lambkin.cluster.bus import Bus, SoloBus
from lambkin.cluster.leases import Lease
from lambkin.queues import attributes as attrs
from lambkin.queues import permissions, storage
from lambkin.queues.attributes import QueueConfig
from lambkin.queues.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
)
from lambkin.queues.journal import Journal
from lambkin.queues.queue import Queue
from lambkin.store import Connection

MAX_TAGS = 50
RECREATE_AFTER = 60.0  # seconds before a deleted queue's name may be used again
TOPIC = "queues"  # the bus's topic: this queue's metadata changed (or it was created or deleted)


class QueueRegistry:
    """Every live queue by name; each change is committed before it is answered, under the queue's lease
    (`lease_of`: a queue's settings are changed by the node that owns it)."""

    def __init__(
        self,
        journal: Journal,
        clock: Clock,
        region: str,
        account_id: str,
        bus: Bus | None = None,
        lease_of: Callable[[str], Lease | None] = lambda name: None,
    ) -> None:
        self.journal = journal
        self.lease_of = lease_of
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.bus: Bus = bus or SoloBus()
        self.queues: dict[str, Queue] = {}
        self._deleted_at: dict[str, float] = {}  # kept in memory only: a restart forgets them
        self._writes: dict[str, int] = {}  # this node's metadata writes by queue (see `apply`)

    def writes(self) -> dict[str, int]:
        """How many metadata writes this node began, by queue: noted before a reload reads the database."""
        return dict(self._writes)

    def apply(self, name: str, row: storage.QueueRow | None, writes: dict[str, int]) -> None:
        """The stored metadata of queue `name` (None: it is gone), read after `writes` was noted; a queue
        this node wrote since keeps what it has (its own news follows)."""
        if self._writes.get(name, 0) != writes.get(name, 0):
            return
        current = self.queues.get(name)
        if row is None:
            if current is not None:
                self._forget(current)
            return
        if current is None or current.created_at != row.created_at or current.fifo != row.fifo:
            if current is not None:
                self._forget(current)
            self._deleted_at.pop(name, None)
            self.restore(row)
            return
        current.config = attrs.apply(QueueConfig(fifo=row.fifo), row.attributes, creating=True)
        current.tags = dict(row.tags)
        current.modified_at = row.modified_at

    async def _write(self, name: str, fn: Callable[[Connection], None]) -> None:
        """Commits a change of queue `name`'s metadata, fenced by its lease, and announces it to every node."""
        self._writes[name] = self._writes.get(name, 0) + 1
        lease = self.lease_of(name)

        def unit(conn: Connection) -> None:
            fn(conn)
            self.bus.announce(conn, TOPIC, name)

        await self.journal.write(unit, *(() if lease is None else (lease,)))

    def _forget(self, queue: Queue) -> None:
        del self.queues[queue.name]
        self._deleted_at[queue.name] = self.clock.now()
        queue.deleted = True
        queue.index.clear()
        queue.notify()

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def name_of_arn(self, arn: str) -> str | None:
        prefix = f"arn:aws:sqs:{self.region}:{self.account_id}:"
        return arn[len(prefix) :] if arn.startswith(prefix) else None

    def get(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            raise QueueDoesNotExist()
        return queue

    def restore(self, row: storage.QueueRow) -> Queue:
        """Puts a queue read from disk at start-up back in the registry."""
        config = attrs.apply(QueueConfig(fifo=row.fifo), row.attributes, creating=True)
        queue = Queue(
            row.name, self.arn(row.name), config, row.tags, row.created_at, row.modified_at, row.next_seq
        )
        self.queues[row.name] = queue
        return queue

    async def create(self, name: str, attributes: dict[str, str], tags: dict[str, str]) -> Queue:
        fifo = attrs.is_fifo_request(name, attributes)
        attrs.validate_name(name, fifo)
        existing = self.queues.get(name)
        if existing is not None:
            differing = "FifoQueue" if existing.fifo != fifo else attrs.differs(existing.config, attributes)
            if differing is not None:
                raise QueueNameExists(
                    f"A queue already exists with the same name and a different value for attribute {differing}"
                )
            return existing
        deleted_at = self._deleted_at.get(name)
        if deleted_at is not None and self.clock.now() - deleted_at < RECREATE_AFTER:
            raise QueueDeletedRecently(
                "You must wait 60 seconds after deleting a queue before you can create another with the same name."
            )
        config = attrs.apply(QueueConfig(fifo=fifo), attributes, creating=True)
        self._check_redrive(name, config)
        _check_tags(tags)
        now = int(self.clock.now())
        queue = Queue(name, self.arn(name), config, dict(tags), now, now)
        self.queues[name] = queue
        row = queue.row()
        try:
            await self._write(name, lambda conn: storage.save_queue(conn, row))
        except BaseException:
            self.queues.pop(name, None)
            raise
        return queue

    async def delete(self, name: str) -> None:
        self._forget(self.get(name))
        await self._write(name, lambda conn: storage.delete_queue(conn, name))

    def names(
        self, every: list[str], prefix: str | None, max_results: int | None, next_token: str | None
    ) -> tuple[list[str], str | None]:
        """Of `every` queue's name, those in order from `next_token`, and the token for the next page (if
        MaxResults cut it)."""
        if max_results is not None and not 1 <= max_results <= 1000:
            raise InvalidParameterValue(
                f"Value {max_results} for parameter MaxResults is invalid. Reason: must be between 1 and 1000."
            )
        after = _decode_token(next_token) if next_token else ""
        names = sorted(n for n in every if n.startswith(prefix or "") and n > after)
        limit = max_results or 1000
        page = names[:limit]
        token = _encode_token(page[-1]) if max_results is not None and len(names) > limit else None
        return page, token

    def attributes(self, name: str, names: list[str]) -> dict[str, str]:
        queue = self.get(name)
        now = self.clock.now()
        counts = queue.index.counts(now)
        every = queue.config.render()
        every.update(
            QueueArn=queue.arn,
            ApproximateNumberOfMessages=str(counts.visible),
            ApproximateNumberOfMessagesNotVisible=str(counts.in_flight),
            ApproximateNumberOfMessagesDelayed=str(counts.delayed),
            CreatedTimestamp=str(queue.created_at),
            LastModifiedTimestamp=str(queue.modified_at),
        )
        if "All" in names:
            return every
        out: dict[str, str] = {}
        for wanted in names:
            if wanted in every:
                out[wanted] = every[wanted]
            elif wanted not in attrs.SETTABLE or wanted in attrs.FIFO_ONLY or wanted == "FifoQueue":
                raise InvalidAttributeName(f"Unknown Attribute {wanted}.")
        return out

    async def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        queue = self.get(name)
        config = attrs.apply(queue.config, attributes, creating=False)
        self._check_redrive(name, config)
        queue.config = config
        queue.modified_at = int(self.clock.now())
        row = queue.row()
        await self._write(name, lambda conn: storage.save_queue(conn, row))

    async def add_permission(self, name: str, label: str, accounts: list[str], actions: list[str]) -> None:
        queue = self.get(name)
        policy = permissions.add_permission(queue.config.policy, queue.arn, label, accounts, actions)
        await self.set_attributes(name, {"Policy": policy})

    async def remove_permission(self, name: str, label: str) -> None:
        queue = self.get(name)
        policy = permissions.remove_permission(queue.config.policy, queue.arn, label)
        await self.set_attributes(name, {"Policy": policy})

    async def tag(self, name: str, tags: dict[str, str]) -> None:
        queue = self.get(name)
        merged = {**queue.tags, **tags}
        _check_tags(merged)
        queue.tags = merged
        row = queue.row()
        await self._write(name, lambda conn: storage.save_queue(conn, row))

    async def untag(self, name: str, keys: list[str]) -> None:
        queue = self.get(name)
        queue.tags = {k: v for k, v in queue.tags.items() if k not in keys}
        row = queue.row()
        await self._write(name, lambda conn: storage.save_queue(conn, row))

    async def purge(self, name: str) -> None:
        queue = self.get(name)
        now = self.clock.now()
        if not queue.may_purge(now):
            raise PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
            )
        queue.purged_at = now
        queue.index.clear()
        queue.dedup.clear()  # a message sent again after a purge is a new one
        await self._write(name, lambda conn: storage.purge(conn, name))

    def dead_letter_sources(self, name: str) -> list[str]:
        arn = self.get(name).arn
        return sorted(
            n
            for n, q in self.queues.items()
            if q.config.redrive_policy is not None and q.config.redrive_policy.dead_letter_target_arn == arn
        )

    def dead_letter_queue(self, queue: Queue) -> Queue | None:
        """The queue's dead-letter queue while it exists."""
        policy = queue.config.redrive_policy
        if policy is None:
            return None
        name = self.name_of_arn(policy.dead_letter_target_arn)
        return self.queues.get(name) if name is not None else None

    def _check_redrive(self, name: str, config: QueueConfig) -> None:
        policy = config.redrive_policy
        if policy is None:
            return
        reason = None
        target_name = self.name_of_arn(policy.dead_letter_target_arn)
        target = self.queues.get(target_name) if target_name is not None else None
        if target is None:
            reason = "Dead-letter target does not exist."
        elif target.fifo != config.fifo:
            reason = "Dead-letter queue must be same type of queue as the source."
        elif target.config.redrive_allow_policy is not None and not target.config.redrive_allow_policy.allows(
            self.arn(name)
        ):
            reason = "Dead-letter target does not allow this queue as a source (RedriveAllowPolicy)."
        if reason is not None:
            raise InvalidParameterValue(
                f"Value {policy.render()} for parameter RedrivePolicy is invalid. Reason: {reason}"
            )


def _check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"Too many tags: {len(tags)}; a queue has at most {MAX_TAGS}.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise InvalidParameterValue(f"Invalid tag key or value: {key!r}.")


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeError) as exc:
        raise InvalidParameterValue("Invalid NextToken value.") from exc
