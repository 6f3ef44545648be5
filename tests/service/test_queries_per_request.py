"""Round trips per request on the hot routes: one statement per read, none on the writer.

The benchmark's numbers rest on these counts (benchmarks/README.md); a change that adds a
query, a transaction or a ROLLBACK to a read shows up here first. Statements are counted at
the cursor (each is a round trip). On MariaDB the hot reads and writes skip SQLAlchemy
(driver.py), so the server's own counters count them, and show that no read ends a
transaction (SQLAlchemy's "rollback" event fires even when autocommit skips the call).
"""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.service.conftest import Account
from tests.support import mariadb


@contextmanager
def statements(app, backend: str):
    """(pool, first word of each statement) sent while the block runs.

    On MariaDB, the SELECTs the server counted beyond those SQLAlchemy saw are the driver's
    hot reads, on the reader's behalf; they are added at the end as ("reader", "SELECT").
    """
    sent: list[tuple[str, str]] = []
    listeners = []
    for name in ("reader", "writer"):
        engine = getattr(app.state.db, name).sync_engine

        def on_execute(_conn, _cursor, statement, *_args, pool=name):
            sent.append((pool, statement.split(None, 1)[0].upper()))

        event.listen(engine, "before_cursor_execute", on_execute)
        listeners.append((engine, "before_cursor_execute", on_execute))
    before = server_counters() if backend == "mariadb" else None
    try:
        yield sent
    finally:
        for engine, name, listener in listeners:
            event.remove(engine, name, listener)
    if before is not None:
        after = server_counters()
        seen = sum(1 for _, word in sent if word == "SELECT")
        sent += [("reader", "SELECT")] * (after["Com_select"] - before["Com_select"] - seen)


COUNTERS = ("Com_select", "Com_update", "Com_commit", "Com_rollback")


def server_counters() -> dict[str, int]:
    """The server's statement counters named in COUNTERS (the suite is its only client)."""
    with mariadb.connect() as conn, conn.cursor() as cur:
        names = ", ".join(f"'{name}'" for name in COUNTERS)
        cur.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")
        return {name: int(value) for name, value in cur.fetchall()}


@pytest.fixture(scope="module")
def account(client, admin_headers):
    user = Account(client, admin_headers)
    response = client.post("/items", json={"name": f"q-{user.username}"}, headers=user.headers)
    assert response.status_code == 201, response.text
    user.item_id = response.json()["id"]
    return user


@pytest.mark.parametrize(
    "path",
    ["/auth/me", "/items/{item}", "/items?limit=20", "/items?name=q-&limit=5", "/users/{user}"],
)
def test_a_read_is_one_statement_on_the_reader_per_query(client, account, backend, path):
    url = path.format(item=account.item_id, user=account.id)
    # Once first: a pool's first connection costs its own set-up statements.
    assert client.get(url, headers=account.headers).status_code == 200
    ended = transactions_ended() if backend == "mariadb" else None
    with statements(client.app, backend) as sent:
        assert client.get(url, headers=account.headers).status_code == 200
    # The token lookup, then the route's one query (a page carries its total along).
    assert sent == [("reader", "SELECT")] * (1 if path == "/auth/me" else 2), sent
    if ended is not None:
        assert transactions_ended() == ended  # no COMMIT, no ROLLBACK: autocommit reads


def transactions_ended() -> tuple[int, int]:
    counters = server_counters()
    return counters["Com_commit"], counters["Com_rollback"]


def test_a_write_is_one_transaction_on_the_writer(client, account, backend):
    before = server_counters() if backend == "mariadb" else None
    with statements(client.app, backend) as sent:
        response = client.patch(
            f"/items/{account.item_id}", json={"description": "x"}, headers=account.headers
        )
    assert response.status_code == 200, response.text
    # The token lookup; then the item's locking read, its UPDATE and the COMMIT.
    if before is None:  # SQLite: every statement goes through SQLAlchemy
        assert sorted(sent) == [
            ("reader", "SELECT"),
            ("writer", "BEGIN"),
            ("writer", "SELECT"),
            ("writer", "UPDATE"),
        ], sent
    else:
        after = server_counters()
        sent = {name: after[name] - before[name] for name in COUNTERS}
        assert sent == {"Com_select": 2, "Com_update": 1, "Com_commit": 1, "Com_rollback": 0}
