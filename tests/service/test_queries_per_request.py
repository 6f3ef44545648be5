"""Round trips per request on the hot routes: one statement per read, no transaction for it.

The benchmark's numbers rest on these counts (benchmarks/README.md); a change that adds a
query, a transaction or a ROLLBACK to a read shows up here first. Statements are counted
where db.Database hands them to the driver (each is a round trip); on MariaDB the server's
own counters show too that no read ends a transaction.
"""

import itertools
from contextlib import contextmanager

import pytest

from tests.service.conftest import Account, live_admin_headers
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
    """The server's statement counters named in COUNTERS (of all its clients)."""
    with mariadb.connect() as conn, conn.cursor() as cur:
        names = ", ".join(f"'{name}'" for name in COUNTERS)
        cur.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")
        return {name: int(value) for name, value in cur.fetchall()}


@pytest.fixture(scope="module")
def account(client, admin_session):
    user = Account(client, live_admin_headers(client, admin_session))
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
    with statements(client.app, monkeypatch) as sent:
        assert client.get(url, headers=account.headers).status_code == 200
    # The token lookup, then the route's one query (a page carries its total along).
    assert sent == ["SELECT"] * (1 if path == "/auth/me" else 2), sent
    if backend == "mariadb":  # no COMMIT, no ROLLBACK: autocommit reads

        def read():
            assert client.get(url, headers=account.headers).status_code == 200

        none_ended = {"Com_commit": 0, "Com_rollback": 0}
        counted = server_counts(read, none_ended)
        assert {name: counted[name] for name in none_ended} == none_ended


def server_counts(action, expected: dict[str, int], tries: int = 5) -> dict[str, int]:
    """How the server's counters moved around `action` (repeatable): the least of a few
    tries, each counter on its own. Other clients of the shared server can only add to
    them, so a try that shows what is expected ends the search, and a count that stays
    above it in every try is the action's own."""
    least: dict[str, int] = {}
    for _ in range(tries):
        before = server_counters()
        action()
        after = server_counters()
        for name in COUNTERS:
            moved = after[name] - before[name]
            least[name] = min(least[name], moved) if name in least else moved
        if all(least[name] == value for name, value in expected.items()):
            break
    return least


def test_a_write_is_one_transaction(client, account, backend, monkeypatch):
    descriptions = (f"written {n}" for n in itertools.count())

    def write():  # a new description each time: one that is already there writes nothing
        change = {"description": next(descriptions)}
        response = client.patch(f"/items/{account.item_id}", json=change, headers=account.headers)
        assert response.status_code == 200, response.text

    with statements(client.app, monkeypatch) as sent:
        write()
    # The token lookup; then the item's locking read, its UPDATE and the COMMIT.
    assert sent == ["SELECT", "BEGIN", "SELECT", "UPDATE", "COMMIT"], sent
    if backend == "mariadb":
        # Not Com_select: readers of the shared server (a benchmark, other runs) keep it
        # moving in every try; the statements above count the app's own SELECTs.
        expected = {"Com_update": 1, "Com_commit": 1, "Com_rollback": 0}
        counted = server_counts(write, expected)
        assert {name: counted[name] for name in expected} == expected
