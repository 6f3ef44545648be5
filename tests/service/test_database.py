"""The request database (db.Database, dialects.py) on both backends: one SQL text for MySQL
and SQLite, the same rows and errors back, and the pool's limits."""

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from fastapi_example import db as db_module
from fastapi_example.db import Database, DatabaseUnavailable, UniqueViolation
from fastapi_example.dialects import MySQL, SQLite
from fastapi_example.main import create_app
from tests.service.conftest import ADMIN, bearer, login, run_on_database, unique
from tests.support import mariadb

MARIADB = pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_one_sql_text_for_both_drivers():
    sql = "SELECT name FROM items WHERE name LIKE '5%' AND id = ? FOR UPDATE"
    assert MySQL.statement(sql) == (
        "SELECT name FROM items WHERE name LIKE '5%%' AND id = %s FOR UPDATE"
    )
    # SQLite has no row locks: its transactions take the write lock at BEGIN.
    assert SQLite.statement(sql) == "SELECT name FROM items WHERE name LIKE '5%' AND id = ?"
    assert SQLite.begin == "BEGIN IMMEDIATE" and MySQL.begin == "BEGIN"


def test_datetimes_come_back_aware_in_utc_and_are_stored_in_utc(api_settings):
    name = unique("utc-")[:30]
    local = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))

    async def scenario(database: Database):
        await database.insert(
            "INSERT INTO login_throttle (bucket, failures, window_started) VALUES (?, 0, ?)",
            name,
            local,
        )
        found = await database.fetch_one(
            "SELECT window_started FROM login_throttle WHERE bucket = ? AND window_started = ?",
            name,
            local,
        )
        # Without parameters (sent as text on MySQL, where the others are prepared).
        as_text = await database.fetch_one(
            "SELECT window_started, CAST(NULL AS DATETIME) AS never FROM login_throttle"
            " WHERE window_started = '2030-01-02 01:04:05.678901'"  # local's instant in UTC
        )
        await database.execute("DELETE FROM login_throttle WHERE bucket = ?", name)
        return found, as_text

    found, as_text = run_on_database(api_settings, scenario)
    for row in (found, as_text):
        assert row["window_started"] == local
        assert row["window_started"].tzinfo == UTC and row["window_started"].hour == 1
    assert as_text["never"] is None


def test_a_percent_sign_reaches_the_database_as_written(api_settings):
    async def scenario(database: Database):
        alone = await database.fetch_one("SELECT '5%' AS text")
        bound = await database.fetch_one("SELECT '5%' AS text, ? AS n", 1)
        return alone["text"], bound["text"]

    assert run_on_database(api_settings, scenario) == ("5%", "5%")


@MARIADB
def test_statements_with_parameters_are_prepared_once_per_connection(api_settings):
    async def scenario(database: Database):
        async with database.connection() as connection:

            async def counts():
                rows = await connection.fetch_all("SHOW SESSION STATUS LIKE 'Com_stmt_%'")
                return {row["Variable_name"]: int(row["Value"]) for row in rows}

            before = await counts()
            for item_id in range(3):
                await connection.fetch_one("SELECT id FROM items WHERE id = ?", item_id)
            after = await counts()
        return {name: after[name] - before[name] for name in after}

    done = run_on_database(api_settings, scenario)
    assert done["Com_stmt_prepare"] == 1 and done["Com_stmt_execute"] == 3


def test_a_refused_write_is_a_unique_violation_and_the_connection_stays(api_settings):
    async def scenario(database: Database) -> list[str]:
        async with database.connection() as connection:
            with pytest.raises(UniqueViolation):
                await connection.insert("INSERT INTO roles (id, name) VALUES (?, ?)", 3, "admin")
            assert not connection.broken
            return [row["name"] for row in await connection.fetch_all("SELECT name FROM roles")]

    assert sorted(run_on_database(api_settings, scenario)) == ["admin", "user"]


@SQLITE
@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("PRAGMA query_only = 1", "SQLITE_READONLY"),  # as on a read-only volume
        ("PRAGMA max_page_count = 1", "SQLITE_FULL"),  # as on a full disk
    ],
)
def test_sqlite_that_cannot_write_is_unavailable_and_a_wrong_statement_is_not(
    api_settings, condition, reason
):
    # Both are sqlite3.OperationalError: the result code tells a sick database from a bug.
    async def scenario(database: Database) -> None:
        before = set(threading.enumerate())
        opened = set()  # aiosqlite runs each connection in a thread of its own
        async with database.connection() as connection:
            opened |= set(threading.enumerate()) - before
            await connection.run(condition)
            with pytest.raises(DatabaseUnavailable, match=f"^{reason}$"):
                # A row larger than a page: it needs pages the file does not have yet.
                await connection.insert(
                    "INSERT INTO roles (id, name) VALUES (?, ?)", 99, "x" * 100_000
                )
            assert connection.broken  # the pragma goes with the connection
        async with database.connection() as connection:
            opened |= set(threading.enumerate()) - before
            with pytest.raises(sqlite3.OperationalError, match="no such table"):
                await connection.fetch_all("SELECT * FROM no_such_table")
        # Each failure closed its connection, in that connection's thread: let them finish
        # before the test's event loop ends.
        deadline = time.monotonic() + 30
        while any(thread.is_alive() for thread in opened) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    run_on_database(api_settings, scenario)


def test_an_update_counts_the_rows_it_matched(api_settings, new_account):
    owner = new_account()

    async def scenario(database: Database) -> list[int]:
        sql = "UPDATE users SET role_id = role_id WHERE id = ?"  # matched, not changed
        return [await database.execute(sql, owner.id), await database.execute(sql, 0)]

    assert run_on_database(api_settings, scenario) == [1, 0]


def test_a_delete_answers_no_rows_and_its_row_count(api_settings):
    # A DELETE has no result set: asyncmy's cursor describes it as None (a login deletes
    # a throttle counter, and a rows helper that read the description failed it with 500).
    names = (unique("delete-"), unique("delete-"))

    async def scenario(database: Database):
        async with database.transaction() as tx:
            sql = "INSERT INTO login_throttle (bucket, failures, window_started) VALUES (?, 1, ?)"
            for name in names:
                await tx.insert(sql, name, datetime.now(UTC))
            deleted = await tx.run("DELETE FROM login_throttle WHERE bucket IN (?, ?)", *names)
        again = await database.execute("DELETE FROM login_throttle WHERE bucket IN (?, ?)", *names)
        return deleted, again

    deleted, again = run_on_database(api_settings, scenario)
    assert deleted.rows == [] and deleted.rowcount == 2
    assert again == 0


def test_more_requests_than_connections_wait_their_turn(api_settings):
    async def scenario(database: Database) -> list[int]:
        async def hold(n: int) -> int:
            async with database.connection() as connection:
                await connection.fetch_one("SELECT 1 AS one")
                await asyncio.sleep(0.05)  # hold it: the others must wait
                return n

        return await asyncio.gather(*(hold(n) for n in range(6)))

    started = time.monotonic()
    assert run_on_database(api_settings, scenario, db_pool_size=2) == list(range(6))
    assert time.monotonic() - started >= 0.15  # three rounds of two


def test_a_waiting_request_gets_the_next_connection_before_a_newcomer(api_settings):
    """Turns go in arrival order: a request that asks while another already waits for the
    only connection comes after it, although the connection is free when it asks."""

    async def scenario(database: Database) -> list[str]:
        order: list[str] = []

        async def take(name: str) -> None:
            async with database.connection() as connection:
                order.append(name)
                await connection.fetch_one("SELECT 1 AS one")

        async with database.connection():
            waiting = asyncio.create_task(take("waiting"))
            await asyncio.sleep(0.1)  # it asked, and waits
        # Released: the connection is back in the pool as the newcomer asks.
        await take("newcomer")
        await waiting
        return order

    assert run_on_database(api_settings, scenario, db_pool_size=1) == ["waiting", "newcomer"]


def test_an_exhausted_pool_is_a_json_503_with_retry_after(api_settings, monkeypatch):
    monkeypatch.setattr(db_module, "POOL_TIMEOUT_SECONDS", 0.2)
    app = create_app(api_settings.model_copy(update={"db_pool_size": 1}))
    with TestClient(app) as client:
        headers = bearer(login(client, *ADMIN))
        dialect = app.state.db.dialect
        held = client.portal.call(dialect.acquire)  # the one connection
        try:
            response = client.post("/items", json={"name": "never-written"}, headers=headers)
        finally:
            client.portal.call(dialect.release, held, False)
        assert client.get("/auth/me", headers=headers).status_code == 200  # free again
    assert response.status_code == 503, response.text
    assert response.json()["detail"]
    assert response.headers["Retry-After"]


def test_an_invalid_body_is_a_422_without_waiting_for_a_connection(
    api_settings, new_account, monkeypatch
):
    """The routes take a connection after FastAPI validated their input: a request that can
    never write does not wait for one."""
    headers = new_account().headers
    monkeypatch.setattr(db_module, "POOL_TIMEOUT_SECONDS", 0.2)
    settings = {"db_pool_size": 1, "versions_cache_seconds": 300}
    app = create_app(api_settings.model_copy(update=settings))
    with TestClient(app) as client:
        assert client.get("/roles").status_code == 200  # the catalog is cached from now on
        dialect = app.state.db.dialect
        held = client.portal.call(dialect.acquire)
        try:
            bad = [
                client.post("/auth/refresh", json={}),
                client.post("/auth/token", json={"username": ""}),
                client.post("/items", json={}, headers=headers),
            ]
        finally:
            client.portal.call(dialect.release, held, False)
    assert [response.status_code for response in bad] == [422, 422, 503], [r.text for r in bad]


@MARIADB
def test_connections_the_server_closed_while_idle_are_replaced(client, new_account):
    """A server restart, wait_timeout or a proxy ends idle connections: no request fails."""
    account = new_account()
    for _ in range(3):  # the pool holds connections now
        assert client.get("/auth/me", headers=account.headers).status_code == 200
    database = client.app.state.settings.db_name
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND command = 'Sleep'",
            (database,),
        )
        idle = [row[0] for row in cursor.fetchall()]
        assert idle
        for connection_id in idle:
            cursor.execute(f"KILL CONNECTION {int(connection_id)}")
    time.sleep(0.2)  # the server's close reaches the pool's sockets
    for path in ("/auth/me", "/items?limit=5", "/roles"):
        response = client.get(path, headers=account.headers)
        assert response.status_code == 200, response.text
