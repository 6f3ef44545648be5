"""Database.transaction: the hot writes' Core statements in one writer transaction.

On MariaDB they are sent by asyncmy on a connection of SQLAlchemy's writer pool (driver.py);
on SQLite through SQLAlchemy. Run on a fresh Database of the suite's backend, so its writer
pool holds only the connections these tests open.
"""

import asyncio

import pytest
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError

from fastapi_example.db import Database
from fastapi_example.driver import Prepared
from fastapi_example.models import Item, ItemPublic, utcnow
from fastapi_example.routes import items
from fastapi_example.rows import public_columns
from tests.service.conftest import unique
from tests.support import mariadb

MARIADB = pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
CONNECTION_ID = Prepared(select(func.connection_id().label("id")))
SLEEP = Prepared(select(func.sleep(bindparam("seconds")).label("slept")))
NAMED = Prepared(select(*public_columns(ItemPublic, Item)).where(Item.name == bindparam("name")))


def run(api_settings, scenario):
    """scenario(database) on a fresh Database, disposed of at the end."""
    database = Database(api_settings)

    async def main():
        await database.start()
        try:
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def test_what_is_not_committed_is_rolled_back_and_what_is_stays(api_settings, new_account):
    owner, now = new_account(), utcnow()
    row = {"description": None, "user_id": owner.id, "created_at": now, "updated_at": now}

    kept, dropped = {**row, "name": unique("kept-")}, {**row, "name": unique("dropped-")}

    async def scenario(database: Database) -> list[list]:
        with pytest.raises(RuntimeError):
            async with database.transaction() as transaction:
                await transaction.insert(items._INSERT, dropped)
                raise RuntimeError("the endpoint failed before its commit")
        async with database.transaction() as transaction:
            kept_id = await transaction.insert(items._INSERT, kept)
            await transaction.commit()
        found = [await database.rows(NAMED, {"name": row["name"]}) for row in (dropped, kept)]
        assert found[1][0]["id"] == kept_id
        return found

    found_dropped, found_kept = run(api_settings, scenario)
    assert found_dropped == []
    assert [(r["name"], r["user_id"], r["created_at"]) for r in found_kept] == [
        (kept["name"], owner.id, now)
    ]


def kill(connection_id: int) -> None:
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"KILL CONNECTION {int(connection_id)}")


@MARIADB
def test_a_connection_lost_mid_transaction_fails_it_and_is_not_reused(api_settings):
    async def scenario(database: Database) -> tuple[int, list[int]]:
        async with database.transaction() as transaction:
            (lost,) = await transaction.rows(CONNECTION_ID, {})
            kill(lost["id"])
            with pytest.raises(DBAPIError):
                await transaction.rows(CONNECTION_ID, {})
        after = []
        for _ in range(3):  # the pool holds one connection: a dead one would come back
            async with database.transaction() as transaction:
                after += [row["id"] for row in await transaction.rows(CONNECTION_ID, {})]
        return lost["id"], after

    lost, after = run(api_settings, scenario)
    assert len(after) == 3 and lost not in after


@MARIADB
def test_a_statement_cancelled_mid_answer_drops_its_connection(api_settings):
    async def scenario(database: Database) -> tuple[int, int]:
        async with database.transaction() as transaction:
            (first,) = await transaction.rows(CONNECTION_ID, {})
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await transaction.rows(SLEEP, {"seconds": 2})
        async with database.transaction() as transaction:
            (second,) = await transaction.rows(CONNECTION_ID, {})
        return first["id"], second["id"]

    first, second = run(api_settings, scenario)
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
