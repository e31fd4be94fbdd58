"""The queue engine's schema and the statements it runs (each a function of one connection)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TypeVar

from lambkin.queues import move_tasks
from lambkin.queues.lifecycle import MessageMeta
from lambkin.queues.messages import AttributeValue
from lambkin.store import Connection, Migration, Row

T = TypeVar("T")

SCHEMA = """
CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    fifo INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    next_seq INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    system_attributes TEXT,
    md5_body TEXT NOT NULL,
    md5_attributes TEXT,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_at REAL,
    receipt TEXT NOT NULL DEFAULT '',
    group_id TEXT,
    dedup_id TEXT,
    sender_id TEXT NOT NULL,
    dlq_source TEXT,
    size INTEGER NOT NULL
);
CREATE INDEX messages_by_queue ON messages (queue, seq);
CREATE TABLE dedup (
    queue TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (queue, key)
)
"""


def migrations() -> list[Migration]:
    return [Migration("queues", 1, SCHEMA), move_tasks.MIGRATION]


@dataclass(frozen=True)
class QueueRow:
    name: str
    fifo: bool
    attributes: dict[str, str]
    tags: dict[str, str]
    created_at: int
    modified_at: int
    next_seq: int


@dataclass(slots=True)
class MessageContent:
    """What a receive reads from disk: the parts of a message the index does not hold."""

    body: str
    attributes: dict[str, AttributeValue]
    system_attributes: dict[str, AttributeValue]
    md5_body: str
    md5_attributes: str | None
    dedup_id: str | None
    sender_id: str
    dlq_source: str | None


@dataclass(frozen=True)
class DedupEntry:
    queue: str
    key: str
    message_id: str
    seq: int
    expires_at: float


def load_queues(conn: Connection) -> list[QueueRow]:
    rows = conn.execute("SELECT name, fifo, attributes, tags, created_at, modified_at, next_seq FROM queues")
    return [QueueRow(r[0], bool(r[1]), json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6]) for r in rows]


def queue_rows(conn: Connection, names: Iterable[str]) -> list[QueueRow]:
    """The stored rows of these queues (a deleted one is not among them)."""
    found: list[QueueRow] = []
    for name in names:
        rows = conn.execute(
            "SELECT name, fifo, attributes, tags, created_at, modified_at, next_seq FROM queues WHERE name = ?",
            (name,),
        )
        found += [
            QueueRow(r[0], bool(r[1]), json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6]) for r in rows
        ]
    return found


def queue_exists(conn: Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone() is not None


def queue_names(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM queues ORDER BY name")]


def depths(conn: Connection, now: float) -> list[tuple[str, int, int, int, float | None]]:
    """Every queue's (name, visible, in flight, delayed, oldest message's sent_at), in one query."""
    rows = conn.execute(
        "SELECT q.name,"
        " COALESCE(SUM(CASE WHEN m.visible_at <= ? THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN m.visible_at > ? AND m.receive_count > 0 THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN m.visible_at > ? AND m.receive_count = 0 THEN 1 ELSE 0 END), 0),"
        " MIN(m.sent_at)"
        " FROM queues q LEFT JOIN messages m ON m.queue = q.name GROUP BY q.name ORDER BY q.name",
        (now, now, now),
    )
    return [(r[0], int(r[1]), int(r[2]), int(r[3]), None if r[4] is None else float(r[4])) for r in rows]


@dataclass(frozen=True)
class QueueState:
    """One queue as its new owner loads it: its row, its messages' index entries, its deduplication keys."""

    row: QueueRow
    messages: list[MessageMeta]
    dedup: list[DedupEntry]


def load_queue(conn: Connection, name: str, now: float) -> QueueState | None:
    found = conn.execute(
        "SELECT name, fifo, attributes, tags, created_at, modified_at, next_seq FROM queues WHERE name = ?",
        (name,),
    ).fetchone()
    if found is None:
        return None
    row = QueueRow(
        found[0], bool(found[1]), json.loads(found[2]), json.loads(found[3]), found[4], found[5], found[6]
    )
    rows = conn.execute(
        "SELECT id, queue, seq, sent_at, visible_at, receive_count, first_receive_at, receipt, group_id, size"
        " FROM messages WHERE queue = ? ORDER BY seq",
        (name,),
    )
    messages = [MessageMeta(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows]
    dedup = conn.execute(
        "SELECT queue, key, message_id, seq, expires_at FROM dedup WHERE queue = ? AND expires_at > ?",
        (name, now),
    )
    return QueueState(row, messages, [DedupEntry(*r) for r in dedup])


def save_queue(conn: Connection, row: QueueRow) -> None:
    conn.execute(
        "INSERT INTO queues (name, fifo, attributes, tags, created_at, modified_at, next_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET attributes = excluded.attributes,"
        " tags = excluded.tags, modified_at = excluded.modified_at",
        (
            row.name,
            int(row.fifo),
            json.dumps(row.attributes),
            json.dumps(row.tags),
            row.created_at,
            row.modified_at,
            row.next_seq,
        ),
    )


def delete_queue(conn: Connection, name: str) -> None:
    conn.execute("DELETE FROM messages WHERE queue = ?", (name,))
    conn.execute("DELETE FROM dedup WHERE queue = ?", (name,))
    move_tasks.delete_tasks_of(conn, name)
    conn.execute("DELETE FROM queues WHERE name = ?", (name,))


@dataclass(slots=True)
class NewMessage:
    meta: MessageMeta
    content: MessageContent
    dedup: DedupEntry | None = None


_CHUNK = 100  # rows per statement: one statement for a batch of 10 (each is a round trip on PostgreSQL)
_MESSAGE_COLUMNS = (
    "id, queue, seq, body, attributes, system_attributes, md5_body, md5_attributes, sent_at, visible_at,"
    " group_id, dedup_id, sender_id, dlq_source, size"
)


def _chunks(rows: list[T], size: int = _CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert_messages(conn: Connection, queue: str, messages: list[NewMessage], next_seq: int) -> None:
    rows = [
        (
            m.meta.message_id,
            queue,
            m.meta.seq,
            m.content.body,
            _encode_attributes(m.content.attributes),
            _encode_attributes(m.content.system_attributes),
            m.content.md5_body,
            m.content.md5_attributes,
            m.meta.sent_at,
            m.meta.visible_at,
            m.meta.group_id,
            m.content.dedup_id,
            m.content.sender_id,
            m.content.dlq_source,
            m.meta.size,
        )
        for m in messages
    ]
    for chunk in _chunks(rows):
        conn.execute(_insert_messages_sql(len(chunk)), [v for row in chunk for v in row])
    dedup = [m.dedup for m in messages if m.dedup is not None]
    if dedup:
        conn.executemany(
            "INSERT INTO dedup (queue, key, message_id, seq, expires_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (queue, key) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq,"
            " expires_at = excluded.expires_at",
            [(d.queue, d.key, d.message_id, d.seq, d.expires_at) for d in dedup],
        )
    conn.execute("UPDATE queues SET next_seq = ? WHERE name = ?", (next_seq, queue))


@cache
def _insert_messages_sql(count: int) -> str:
    """insert_messages' statement for `count` rows (its text built once per count)."""
    marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * count)
    return f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES {marks}"


_DELIVERY_COLUMNS = ("visible_at", "receive_count", "first_receive_at", "receipt")
_DELIVERY_CHUNK = 10  # an API receive's most; each row's CASE looks through the chunk's ids, so keep it short


def update_deliveries(conn: Connection, metas: Iterable[MessageMeta]) -> None:
    """Saves visibility, receive counts and receipts (after a receive or a visibility change): one statement
    for a batch (each is a round trip, or one more message in PostgreSQL's pipeline). A column's ELSE is the
    column itself, never taken (every id is matched), so PostgreSQL types the CASE as the column."""
    rows = [(m.message_id, m.visible_at, m.receive_count, m.first_receive_at, m.receipt) for m in metas]
    for chunk in _chunks(rows, _DELIVERY_CHUNK):
        ids = [row[0] for row in chunk]
        parameters = [v for i in range(1, 5) for row in chunk for v in (row[0], row[i])]
        conn.execute(_update_deliveries_sql(len(chunk)), [*parameters, *ids])


def deliver(conn: Connection, metas: list[MessageMeta]) -> Callable[[], dict[str, MessageContent]]:
    """A receive's update_deliveries and read_contents as one statement per chunk (UPDATE ... RETURNING
    the contents): its rows are read when the function it returns is called (`Journal.write_then_read`)."""
    rows = [(m.message_id, m.visible_at, m.receive_count, m.first_receive_at, m.receipt) for m in metas]
    cursors = []
    for chunk in _chunks(rows, _DELIVERY_CHUNK):
        ids = [row[0] for row in chunk]
        parameters = [v for i in range(1, 5) for row in chunk for v in (row[0], row[i])]
        cursors.append(conn.execute(_deliver_sql(len(chunk)), [*parameters, *ids]))
    return lambda: {r[0]: _content(r) for cursor in cursors for r in cursor}


@cache
def _deliver_sql(count: int) -> str:
    return f"{_update_deliveries_sql(count)} RETURNING {_CONTENT_COLUMNS}"


@cache
def _update_deliveries_sql(count: int) -> str:
    """update_deliveries' statement for `count` rows (its text built once per count)."""
    whens = " ".join(["WHEN ? THEN ?"] * count)
    sets = ", ".join(f"{column} = CASE id {whens} ELSE {column} END" for column in _DELIVERY_COLUMNS)
    return f"UPDATE messages SET {sets} WHERE id IN ({', '.join('?' * count)})"


def move_messages(conn: Connection, moves: list[tuple[MessageMeta, str]], next_seq: int) -> None:
    """Moves messages to a dead-letter queue (each meta already carries its new queue and sequence; its
    receive count goes on)."""
    conn.executemany(
        "UPDATE messages SET queue = ?, seq = ?, visible_at = ?, receipt = '', dlq_source = ? WHERE id = ?",
        [(m.queue, m.seq, m.visible_at, source, m.message_id) for m, source in moves],
    )
    if moves:
        conn.execute("UPDATE queues SET next_seq = ? WHERE name = ?", (next_seq, moves[0][0].queue))


def delete_messages(conn: Connection, ids: Iterable[str]) -> None:
    for chunk in _chunks(list(ids)):
        conn.execute(_delete_messages_sql(len(chunk)), chunk)


@cache
def _delete_messages_sql(count: int) -> str:
    return f"DELETE FROM messages WHERE id IN ({', '.join('?' * count)})"


def prune_dedup(conn: Connection, now: float) -> None:
    conn.execute("DELETE FROM dedup WHERE expires_at <= ?", (now,))


def purge(conn: Connection, queue: str) -> None:
    """Deletes the queue's messages and forgets their deduplication keys."""
    conn.execute("DELETE FROM messages WHERE queue = ?", (queue,))
    conn.execute("DELETE FROM dedup WHERE queue = ?", (queue,))


def read_contents(conn: Connection, ids: list[str]) -> dict[str, MessageContent]:
    if not ids:
        return {}
    return {r[0]: _content(r) for r in conn.execute(_read_contents_sql(len(ids)), ids)}


_CONTENT_COLUMNS = (
    "id, body, attributes, system_attributes, md5_body, md5_attributes, dedup_id, sender_id, dlq_source"
)


def _content(r: Row) -> MessageContent:
    """A row of _CONTENT_COLUMNS (its id first) as the message's content."""
    return MessageContent(
        r[1], _decode_attributes(r[2]), _decode_attributes(r[3]), r[4], r[5], r[6], r[7], r[8]
    )


@lru_cache(maxsize=16)  # an API receive reads 1 to 10; an in-process poller's batch up to 10,000
def _read_contents_sql(count: int) -> str:
    return f"SELECT {_CONTENT_COLUMNS} FROM messages WHERE id IN ({','.join('?' * count)})"


def _encode_attributes(attributes: dict[str, AttributeValue]) -> str | None:
    if not attributes:
        return None
    return json.dumps({name: value.to_json() for name, value in attributes.items()})


def _decode_attributes(text: str | None) -> dict[str, AttributeValue]:
    if not text:
        return {}
    return {name: AttributeValue.from_json(raw) for name, raw in json.loads(text).items()}
