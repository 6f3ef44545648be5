"""The hot reads through asyncmy's pool (driver.py) give exactly what SQLAlchemy gives.

On MariaDB each prepared statement runs both ways on the app's own Database: the driver's
rows must equal SQLAlchemy's, value for value and type for type (aware UTC datetimes, bools).
On SQLite there is no driver pool: the same statements go through SQLAlchemy.
"""

import time
from datetime import UTC

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.mysql import asyncmy, pymysql

from fastapi_example import deps, paging, rows
from fastapi_example.counts import kept_total
from fastapi_example.db import PING_AFTER_IDLE_SECONDS
from fastapi_example.driver import Prepared
from fastapi_example.models import Item, ItemPublic, User, UserPublic
from fastapi_example.routes.items import ITEM_FILTERS
from fastapi_example.routes.users import USER_FILTERS
from fastapi_example.security import token_digest
from tests.service.conftest import Account
from tests.support import mariadb


@pytest.fixture
def owner(client, admin_headers):
    account = Account(client, admin_headers)
    response = client.post(
        "/items", json={"name": f"d-{account.username}"}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    account.item_id = response.json()["id"]
    return account


def both_ways(client, prepared: Prepared, params: dict) -> tuple[list, list]:
    """(the driver's rows, SQLAlchemy's rows as dicts), run on the app's event loop."""
    db = client.app.state.db

    async def core() -> list[dict]:
        async with db.reader.connect() as connection:
            result = await connection.execute(prepared.statement, params)
            return [dict(row) for row in result.mappings()]

    return client.portal.call(db.driver.rows, prepared, params), client.portal.call(core)


MARIADB = pytest.mark.parametrize("backend", ["mariadb"], indirect=True)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_has_no_driver_pool(client):
    assert client.app.state.db.driver is None


def hot_reads(owner) -> list[tuple[Prepared, dict]]:
    digest = token_digest(owner.tokens["access_token"])
    items, _ = paging._statements(ItemPublic, Item, (), kept_total("items"))
    named = (("name", ITEM_FILTERS["name"]),)
    items_named, items_total = paging._statements(ItemPublic, Item, named, None)
    named_params = {"name_contains": f"%{owner.username}%", "offset": 0, "limit": 5}
    activated = (("activated", USER_FILTERS["activated"]),)
    users, _ = paging._statements(UserPublic, User, activated, None)
    return [
        (deps._SESSION_BY_ACCESS_TOKEN, {"digest": digest}),
        (rows._by_id(ItemPublic, Item), {"id": owner.item_id}),
        (rows._by_id(UserPublic, User), {"id": owner.id}),
        (items, {"offset": 0, "limit": 20}),
        (items_named, named_params),
        (items_total, named_params),
        (users, {"activated": True, "offset": 0, "limit": 5}),
    ]


CASES = ["token", "item", "user", "items", "items named", "items named total", "users"]


@MARIADB
@pytest.mark.parametrize("case", range(len(CASES)), ids=CASES)
def test_driver_rows_equal_sqlalchemy_rows(client, owner, case):
    prepared, params = hot_reads(owner)[case]
    driver, core = both_ways(client, prepared, params)
    assert driver, "the statement found no row: the comparison would be empty"
    assert driver == core
    for got, expected in zip(driver, core, strict=True):
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
        for key in ("created_at", "updated_at", "access_expires_at"):
            if key in got:
                assert got[key].tzinfo == UTC


@MARIADB
def test_a_missing_row_is_no_row(client):
    driver, core = both_ways(client, rows._by_id(ItemPublic, Item), {"id": 2_000_000_000})
    assert driver == core == []


def test_a_statement_that_needs_sqlalchemy_at_run_time_is_refused():
    # An expanding IN is rendered per call: it cannot be compiled once.
    prepared = Prepared(select(Item.id).where(Item.id.in_([1, 2])))
    with pytest.raises(ValueError, match="post-compile"):
        prepared.compiled(asyncmy.dialect())


def test_a_statement_is_compiled_per_driver_and_only_for_positional_ones():
    prepared = Prepared(select(Item.id).where(Item.id == bindparam("id")))
    compiled = prepared.compiled(asyncmy.dialect())
    assert compiled.sql.endswith("= %s") and compiled.args({"id": 7}) == (7,)
    assert prepared.compiled(asyncmy.dialect()) is compiled
    with pytest.raises(ValueError, match="positional"):
        prepared.compiled(pymysql.dialect(paramstyle="pyformat"))  # %(id)s: named


@MARIADB
def test_connections_the_server_closed_while_idle_are_replaced(client, owner):
    """A server restart, wait_timeout or a proxy ends idle connections: no read fails for it."""
    database = client.app.state.settings.db_name
    for _ in range(3):  # the pools hold connections now
        assert client.get(f"/items/{owner.item_id}", headers=owner.headers).status_code == 200
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND command = 'Sleep'",
            (database,),
        )
        idle = [row[0] for row in cursor.fetchall()]
        assert idle
        for connection_id in idle:
            cursor.execute(f"KILL CONNECTION {int(connection_id)}")
    # Past the writer's ping threshold too, so the later tests find its pool healthy.
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)
    for path in ("/auth/me", f"/items/{owner.item_id}", "/items?limit=5"):
        response = client.get(path, headers=owner.headers)
        assert response.status_code == 200, response.text
