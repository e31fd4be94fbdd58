"""The queue engine's schema and the statements it runs (each a function of one connection)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from lambkin.queues.lifecycle import MessageMeta
from lambkin.queues.messages import AttributeValue
from lambkin.store import Connection, Migration

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
    return [Migration("queues", 1, SCHEMA)]


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


def load_messages(conn: Connection) -> Iterator[MessageMeta]:
    rows = conn.execute(
        "SELECT id, queue, seq, sent_at, visible_at, receive_count, first_receive_at, receipt, group_id, size"
        " FROM messages ORDER BY queue, seq"
    )
    for r in rows:
        yield MessageMeta(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])


def load_dedup(conn: Connection, now: float) -> list[DedupEntry]:
    conn.execute("DELETE FROM dedup WHERE expires_at <= ?", (now,))
    rows = conn.execute("SELECT queue, key, message_id, seq, expires_at FROM dedup")
    return [DedupEntry(*r) for r in rows]


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


def _chunks(rows: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


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
        marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        conn.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES {marks}", [v for row in chunk for v in row]
        )
    dedup = [m.dedup for m in messages if m.dedup is not None]
    if dedup:
        conn.executemany(
            "INSERT INTO dedup (queue, key, message_id, seq, expires_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (queue, key) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq,"
            " expires_at = excluded.expires_at",
            [(d.queue, d.key, d.message_id, d.seq, d.expires_at) for d in dedup],
        )
    conn.execute("UPDATE queues SET next_seq = ? WHERE name = ?", (next_seq, queue))


def update_deliveries(conn: Connection, metas: Iterable[MessageMeta]) -> None:
    """Saves visibility, receive counts and receipts (after a receive or a visibility change)."""
    conn.executemany(
        "UPDATE messages SET visible_at = ?, receive_count = ?, first_receive_at = ?, receipt = ? WHERE id = ?",
        [(m.visible_at, m.receive_count, m.first_receive_at, m.receipt, m.message_id) for m in metas],
    )


def move_messages(conn: Connection, moves: list[tuple[MessageMeta, str]], next_seq: int) -> None:
    """Moves messages to a dead-letter queue (each meta already carries its new queue and sequence)."""
    conn.executemany(
        "UPDATE messages SET queue = ?, seq = ?, visible_at = ?, receive_count = 0, first_receive_at = NULL,"
        " receipt = '', dlq_source = ? WHERE id = ?",
        [(m.queue, m.seq, m.visible_at, source, m.message_id) for m, source in moves],
    )
    if moves:
        conn.execute("UPDATE queues SET next_seq = ? WHERE name = ?", (next_seq, moves[0][0].queue))


def delete_messages(conn: Connection, ids: Iterable[str]) -> None:
    for chunk in _chunks(list(ids)):
        conn.execute(f"DELETE FROM messages WHERE id IN ({', '.join('?' * len(chunk))})", chunk)


def prune_dedup(conn: Connection, now: float) -> None:
    conn.execute("DELETE FROM dedup WHERE expires_at <= ?", (now,))


def purge(conn: Connection, queue: str) -> None:
    conn.execute("DELETE FROM messages WHERE queue = ?", (queue,))


def read_contents(conn: Connection, ids: list[str]) -> dict[str, MessageContent]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        "SELECT id, body, attributes, system_attributes, md5_body, md5_attributes, dedup_id, sender_id,"
        f" dlq_source FROM messages WHERE id IN ({marks})",
        ids,
    )
    return {
        r[0]: MessageContent(
            r[1], _decode_attributes(r[2]), _decode_attributes(r[3]), r[4], r[5], r[6], r[7], r[8]
        )
        for r in rows
    }


def _encode_attributes(attributes: dict[str, AttributeValue]) -> str | None:
    if not attributes:
        return None
    return json.dumps({name: value.to_json() for name, value in attributes.items()})


def _decode_attributes(text: str | None) -> dict[str, AttributeValue]:
    if not text:
        return {}
    return {name: AttributeValue.from_json(raw) for name, raw in json.loads(text).items()}
