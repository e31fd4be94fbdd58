"""SQS message move tasks' records: what a task is, its handle, and the statements that store it.

A task moves the messages of a dead-letter queue (its source) back to the queues they came from, or to one
destination. Its record is written with every batch it moves, in the batch's transaction, so its counts are
exactly what was moved, and a server that dies mid-task resumes it where the database says it stopped.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from lambkin.queues.errors import InvalidParameterValue
from lambkin.queues.lifecycle import MessageMeta
from lambkin.store import Connection, Migration

RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = (
    "RUNNING",
    "COMPLETED",
    "CANCELLING",
    "CANCELLED",
    "FAILED",
)
ACTIVE = (RUNNING, CANCELLING)

SCHEMA = """
CREATE TABLE move_tasks (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    rate INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    failure TEXT
);
CREATE INDEX move_tasks_by_source ON move_tasks (source, started_at)
"""

MIGRATION = Migration("queues", 2, SCHEMA)
_COLUMNS = "id, source, source_arn, destination_arn, rate, status, moved, to_move, started_at, failure"


@dataclass
class MoveTask:
    """One task; `source` is the source queue's name, `started_at` epoch milliseconds."""

    task_id: str
    source: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    status: str
    moved: int
    to_move: int
    started_at: int
    failure: str | None = None

    @property
    def handle(self) -> str:
        """The TaskHandle that names it to CancelMessageMoveTask: its id and its source's ARN."""
        raw = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def entry(self) -> dict[str, object]:
        """The task as ListMessageMoveTasks shows it (the handle only while it runs)."""
        out: dict[str, object] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_at,
        }
        if self.status == RUNNING:
            out["TaskHandle"] = self.handle
        if self.destination_arn is not None:
            out["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.status == FAILED and self.failure:
            out["FailureReason"] = self.failure
        return out


def decode_handle(handle: str) -> tuple[str, str]:
    """The task id and source ARN a TaskHandle carries (InvalidParameterValue if it is not one of ours)."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(handle.encode()).decode())
        task_id, source_arn = decoded["taskId"], decoded["sourceArn"]
    except (binascii.Error, UnicodeError, ValueError, TypeError, KeyError):
        raise InvalidParameterValue("Value for parameter TaskHandle is invalid.") from None
    if not isinstance(task_id, str) or not isinstance(source_arn, str):
        raise InvalidParameterValue("Value for parameter TaskHandle is invalid.")
    return task_id, source_arn


def _task(row: tuple[object, ...]) -> MoveTask:
    return MoveTask(*row)  # type: ignore[arg-type]


def save_task(conn: Connection, task: MoveTask) -> None:
    conn.execute(
        f"INSERT INTO move_tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
        " SET status = excluded.status, moved = excluded.moved, failure = excluded.failure",
        (
            task.task_id,
            task.source,
            task.source_arn,
            task.destination_arn,
            task.rate,
            task.status,
            task.moved,
            task.to_move,
            task.started_at,
            task.failure,
        ),
    )


def tasks_of(conn: Connection, source: str, limit: int) -> list[MoveTask]:
    """The source queue's most recent tasks, newest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM move_tasks WHERE source = ? ORDER BY started_at DESC, id LIMIT ?",
        (source, limit),
    )
    return [_task(tuple(r)) for r in rows]


def task(conn: Connection, task_id: str) -> MoveTask | None:
    found = conn.execute(f"SELECT {_COLUMNS} FROM move_tasks WHERE id = ?", (task_id,)).fetchone()
    return None if found is None else _task(tuple(found))


def active_tasks(conn: Connection) -> list[MoveTask]:
    """Every task still running or being cancelled (a restarted server resumes them)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM move_tasks WHERE status IN (?, ?) ORDER BY started_at", ACTIVE
    )
    return [_task(tuple(r)) for r in rows]


def set_status(conn: Connection, task_id: str, status: str, failure: str | None = None) -> None:
    conn.execute("UPDATE move_tasks SET status = ?, failure = ? WHERE id = ?", (status, failure, task_id))


def delete_tasks_of(conn: Connection, source: str) -> None:
    conn.execute("DELETE FROM move_tasks WHERE source = ?", (source,))


def dead_letter_sources(conn: Connection, ids: list[str]) -> dict[str, str | None]:
    """Each message's DeadLetterQueueSourceArn (the queue a redrive moved it from), by message id."""
    if not ids:
        return {}
    rows = conn.execute(f"SELECT id, dlq_source FROM messages WHERE id IN ({', '.join('?' * len(ids))})", ids)
    return {r[0]: r[1] for r in rows}


def move_batch(
    conn: Connection,
    task_id: str,
    moved: int,
    moves: list[tuple[str, MessageMeta]],
    next_seqs: dict[str, int],
) -> None:
    """Moves messages (old id, the new message's meta: a new id, queue, sequence and enqueue time) and counts
    them in the task, in one transaction: a batch is moved and counted together, or not at all."""
    conn.executemany(
        "UPDATE messages SET id = ?, queue = ?, seq = ?, sent_at = ?, visible_at = ?, receive_count = 0,"
        " first_receive_at = NULL, receipt = '', dlq_source = NULL WHERE id = ?",
        [(m.message_id, m.queue, m.seq, m.sent_at, m.visible_at, old) for old, m in moves],
    )
    for queue, next_seq in next_seqs.items():
        conn.execute("UPDATE queues SET next_seq = ? WHERE name = ?", (next_seq, queue))
    conn.execute("UPDATE move_tasks SET moved = ? WHERE id = ?", (moved, task_id))
