"""Database.transaction: statements in one transaction, committed at the end of the block,
rolled back when it raises; a connection lost or interrupted mid-statement is never reused.

Run on a fresh Database of the suite's backend, so its pool holds only the connections
these tests open.
"""

import asyncio

import pytest

from fastapi_example.db import Database, DatabaseUnavailable
from fastapi_example.models import utcnow
from tests.service.conftest import run_on_database, unique
from tests.support import mariadb

MARIADB = pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
INSERT = (
    "INSERT INTO items (name, description, user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
)
NAMED = "SELECT id, name, user_id, created_at FROM items WHERE name = ?"


def test_what_raises_is_rolled_back_and_what_ends_is_committed(api_settings, new_account):
    owner, now = new_account(), utcnow()
    dropped, kept = unique("dropped-"), unique("kept-")

    async def scenario(database: Database) -> list:
        with pytest.raises(RuntimeError):
            async with database.transaction() as tx:
                await tx.insert(INSERT, dropped, None, owner.id, now, now)
                raise RuntimeError("the endpoint failed before the block ended")
        async with database.transaction() as tx:
            kept_id = await tx.insert(INSERT, kept, None, owner.id, now, now)
        found = [await database.fetch_all(NAMED, name) for name in (dropped, kept)]
        assert found[1][0]["id"] == kept_id
        # Written past the API, the row would leave the kept item count one short for the
        # tests that run after this one on the same database.
        await database.execute("DELETE FROM items WHERE id = ?", kept_id)
        return found

    found_dropped, found_kept = run_on_database(api_settings, scenario)
    assert found_dropped == []
    assert [(r["name"], r["user_id"], r["created_at"]) for r in found_kept] == [
        (kept, owner.id, now)
    ]


CONNECTION_ID = "SELECT connection_id() AS id"


def kill(connection_id: int) -> None:
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"KILL CONNECTION {int(connection_id)}")


@MARIADB
def test_a_connection_lost_mid_transaction_fails_it_and_is_not_reused(api_settings):
    async def scenario(database: Database) -> tuple[int, list[int]]:
        with pytest.raises(DatabaseUnavailable):
            async with database.transaction() as tx:
                lost = (await tx.fetch_one(CONNECTION_ID))["id"]
                kill(lost)
                await tx.fetch_one(CONNECTION_ID)
        after = []
        for _ in range(3):  # the pool holds one connection: a dead one would come back
            async with database.transaction() as tx:
                after.append((await tx.fetch_one(CONNECTION_ID))["id"])
        return lost, after

    lost, after = run_on_database(api_settings, scenario, db_pool_size=1)
    assert len(after) == 3 and lost not in after


@MARIADB
def test_a_statement_cancelled_mid_answer_drops_its_connection(api_settings):
    async def scenario(database: Database) -> tuple[int, int]:
        with pytest.raises(DatabaseUnavailable):  # it cannot commit what it began
            async with database.transaction() as tx:
                first = (await tx.fetch_one(CONNECTION_ID))["id"]
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.2):
                        await tx.fetch_one("SELECT sleep(2) AS slept")
        async with database.transaction() as tx:
            second = (await tx.fetch_one(CONNECTION_ID))["id"]
        return first, second

    first, second = run_on_database(api_settings, scenario, db_pool_size=1)
    # Its answer was still on the way: reused, it would have read the SLEEP's result.
    assert first != second


def test_a_patch_answers_the_item_as_a_get_then_reads_it(client, new_account):
    owner = new_account()
    created = client.post("/items", json={"name": unique("t-")}, headers=owner.headers)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    read = client.get(f"/items/{item_id}", headers=owner.headers)
    assert read.json() == created.json()
    patched = client.patch(f"/items/{item_id}", json={"description": "d"}, headers=owner.headers)
    assert patched.status_code == 200, patched.text
    assert client.get(f"/items/{item_id}", headers=owner.headers).json() == patched.json()
    assert patched.json()["created_at"] == created.json()["created_at"]
    assert patched.json()["updated_at"] > created.json()["updated_at"]
