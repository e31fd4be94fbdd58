"""A PostgreSQL host that goes silent (no reset, no close: powered off, or the network cut) ends lambkin's
connections to it in seconds, as libpq's keepalive and user-timeout settings make it (store/postgres.py,
`LIVENESS`), instead of the kernel's quarter of an hour with every request behind them waiting; once the
host answers again, the store works again by itself.

The silence is an nftables table of the test's own that drops the database's TCP port on this host."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg.conninfo import conninfo_to_dict

from lambkin.store import Connection, StoreUnavailable
from lambkin.store.postgres import PostgresStore
from tests import postgres

pytestmark = pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")


@contextmanager
def silenced(port: int) -> Iterator[None]:
    """Every packet to or from `port` dropped, both ways, while the block runs."""
    table = f"lambkin_test_silence_{port}"
    rules = (
        f"table inet {table} {{\n chain out {{\n type filter hook output priority 0;\n"
        f" tcp dport {port} drop\n tcp sport {port} drop\n }}\n}}\n"
    )
    subprocess.run(["nft", "-f", "-"], input=rules.encode(), check=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=True)


@pytest.fixture
def database() -> Iterator[tuple[str, int]]:
    """A database of a PostgreSQL of this test alone, by TCP on 127.0.0.1 with a password, and its port."""
    server = postgres.PostgresServer().start()
    try:
        name = conninfo_to_dict(server.create_database())["dbname"]
        yield f"postgresql://{postgres.USER}:{postgres.PASSWORD}@127.0.0.1:{server.port}/{name}", server.port
    finally:
        server.remove()


async def test_a_unit_of_work_on_a_silent_host_fails_in_seconds_and_the_store_recovers(
    database: tuple[str, int],
) -> None:
    url, port = database
    store = PostgresStore(url, "lambkin")
    try:
        await store.run(lambda conn: conn.execute("CREATE TABLE t (v INTEGER)"))

        def insert(conn: Connection) -> None:
            conn.execute("INSERT INTO t (v) VALUES (?)", (1,))

        with silenced(port):
            began = time.monotonic()
            with pytest.raises(StoreUnavailable) as away:
                await asyncio.wait_for(store.run(insert), 60)
            waited = time.monotonic() - began
        assert (away.value.code, away.value.status) == ("ServiceUnavailable", 503)
        assert 5 < waited < 20  # the user timeout (10 s), not the kernel's retransmissions (15 min)

        deadline = time.monotonic() + 30
        while True:
            try:
                await store.run(insert)
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert await store.run(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchall()[0][0]) == 1
    finally:
        store.close()
