"""Round trips per request on the hot routes: one statement per read, no transaction for it.

The benchmark's numbers rest on these counts (benchmarks/README.md); a change that adds a
query, a transaction or a ROLLBACK to a read shows up here first. Statements are counted
where db.Database hands them to the driver (each is a round trip); on MariaDB the server's
own counters show too that no read ends a transaction.
"""

from contextlib import contextmanager

import pytest

from tests.service.conftest import Account
from tests.support import mariadb


@contextmanager
def statements(app, monkeypatch):
    """The first word of each statement the app sends while the block runs."""
    sent: list[str] = []
    dialect = app.state.db.dialect
    run = dialect.run

    async def counted(connection, sql, params):
        sent.append(sql.split(None, 1)[0].upper())
        return await run(connection, sql, params)

    with monkeypatch.context() as patch:
        patch.setattr(dialect, "run", counted)
        yield sent


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
def test_a_read_is_one_statement_per_query(client, account, backend, path, monkeypatch):
    url = path.format(item=account.item_id, user=account.id)
    # Once first: a pool's first connection costs its own set-up statements.
    assert client.get(url, headers=account.headers).status_code == 200
    ended = transactions_ended() if backend == "mariadb" else None
    with statements(client.app, monkeypatch) as sent:
        assert client.get(url, headers=account.headers).status_code == 200
    # The token lookup, then the route's one query (a page carries its total along).
    assert sent == ["SELECT"] * (1 if path == "/auth/me" else 2), sent
    if ended is not None:
        assert transactions_ended() == ended  # no COMMIT, no ROLLBACK: autocommit reads


def transactions_ended() -> tuple[int, int]:
    counters = server_counters()
    return counters["Com_commit"], counters["Com_rollback"]


def test_a_write_is_one_transaction(client, account, backend, monkeypatch):
    before = server_counters() if backend == "mariadb" else None
    with statements(client.app, monkeypatch) as sent:
        response = client.patch(
            f"/items/{account.item_id}", json={"description": "x"}, headers=account.headers
        )
    assert response.status_code == 200, response.text
    # The token lookup; then the item's locking read, its UPDATE and the COMMIT.
    assert sent == ["SELECT", "BEGIN", "SELECT", "UPDATE", "COMMIT"], sent
    if before is not None:
        after = server_counters()
        sent = {name: after[name] - before[name] for name in COUNTERS}
        assert sent == {"Com_select": 2, "Com_update": 1, "Com_commit": 1, "Com_rollback": 0}
