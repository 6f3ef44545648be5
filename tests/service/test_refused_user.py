"""A MariaDB that refuses the API's own user while it serves: a changed password, revoked
grants, a per-user limit. The server still answers, but not this user: every route gets 503
with Retry-After (never a 500), the log says which MySQL error without quoting it, and the
same process serves again once the user is let back in.

The API runs as a user of its own on the shared server (its database, its grants), so the
refusals touch no other test.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import mariadb
from tests.support.api_process import (
    ADMIN,
    ApiProcess,
    all_at_once,
    api_env,
    bearer,
    login,
    running_api,
)

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]
PASSWORD = "api-user-password"

# What each refusal runs as root on the server, what undoes it, and the MySQL errors the
# API's new connections then get. KILL USER ends the user's open connections, so that the
# pool's next ones meet the new rule (a pool would meet it when it replaces them anyway).
REFUSALS = {
    "password changed": (
        ["ALTER USER {user} IDENTIFIED BY 'a-password-the-api-does-not-have'"],
        ["ALTER USER {user} IDENTIFIED BY '" + PASSWORD + "'"],
        {1045},  # access denied
    ),
    "grants revoked": (
        ["REVOKE ALL PRIVILEGES ON `{database}`.* FROM {user}"],
        ["GRANT ALL PRIVILEGES ON `{database}`.* TO {user}"],
        {1044},  # access denied to the database
    ),
    "queries per hour used up": (
        ["ALTER USER {user} WITH MAX_QUERIES_PER_HOUR 1", "FLUSH USER_RESOURCES"],
        ["ALTER USER {user} WITH MAX_QUERIES_PER_HOUR 0", "FLUSH USER_RESOURCES"],
        {1226},  # a user's resource limit reached
    ),
}


@contextmanager
def api_as_its_own_user(tmp_path: Path) -> Iterator[tuple[ApiProcess, str, str]]:
    """The API served as a MariaDB user of its own: (the API, `user`@`%`, its database)."""
    with mariadb.fresh_database() as database:
        user = f"'fe_{uuid.uuid4().hex[:10]}'@'%'"
        with mariadb.connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE USER {user} IDENTIFIED BY '{PASSWORD}'")
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO {user}")
        try:
            env = api_env(**mariadb.settings_env(database))
            env.update(DB_USER=user.split("'")[1], DB_PASSWORD=PASSWORD)
            with running_api(env, tmp_path / "api.log") as api:
                yield api, user, database
        finally:
            with mariadb.connect() as conn, conn.cursor() as cursor:
                cursor.execute(f"DROP USER IF EXISTS {user}")


def as_root(statements: list[str], **names: str) -> None:
    with mariadb.connect() as conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.format(**names))


def every_route(client: httpx.Client, tokens: dict) -> list[httpx.Response]:
    """A request on each kind of route: anonymous and authenticated reads, a login, a token
    refresh, a write."""
    headers = bearer(tokens)
    return [
        client.get("/roles"),
        client.get("/auth/me", headers=headers),
        client.get("/items", headers=headers),
        client.post("/items", json={"name": f"refused-{uuid.uuid4().hex[:6]}"}, headers=headers),
        client.post("/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]}),
        client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
    ]


def refusal_reasons(api: ApiProcess) -> set[str]:
    entries = api.log_entries()
    assert not [e for e in entries if e["level"] == "ERROR"], "a refusal was logged as an error"
    return {e["reason"] for e in entries if e["message"] == "database unavailable"}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_every_route_answers_503_while_the_server_refuses_the_apis_user(tmp_path, refusal):
    refuse, undo, codes = REFUSALS[refusal]
    with api_as_its_own_user(tmp_path) as (api, user, database), api.client() as client:
        tokens = login(client, *ADMIN)
        assert client.get("/items", headers=bearer(tokens)).status_code == 200

        as_root([*refuse, "KILL USER {user}"], user=user, database=database)
        for _ in range(2):  # the killed connections first, then the refused new ones
            for response in every_route(client, tokens):
                assert response.status_code == 503, (response.request.url, response.text)
                assert response.json() == {"detail": "Database unavailable, try again shortly"}
                assert response.headers["retry-after"] == "5"
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        assert {f"MySQL error {code}" for code in codes} <= refusal_reasons(api)

        as_root(undo, user=user, database=database)
        assert client.get("/readyz").status_code == 200
        assert [r.status_code for r in every_route(client, tokens)] == [
            200,
            200,
            200,
            201,
            200,
            200,
        ]


def test_a_per_user_connection_limit_answers_503_to_the_requests_over_it(tmp_path):
    with api_as_its_own_user(tmp_path) as (api, user, database), api.client() as client:
        headers = bearer(login(client, *ADMIN))
        as_root(
            ["ALTER USER {user} WITH MAX_USER_CONNECTIONS 1", "KILL USER {user}"],
            user=user,
            database=database,
        )
        # More requests at once than the user may have connections: the pool opens several.
        for _ in range(2):
            answers = all_at_once(16, lambda _: client.get("/auth/me", headers=headers))
            assert {r.status_code for r in answers} <= {200, 503}
        # A user's own limit, like its query limit: its 'max_user_connections' resource.
        assert "MySQL error 1226" in refusal_reasons(api)

        as_root(["ALTER USER {user} WITH MAX_USER_CONNECTIONS 0"], user=user, database=database)
        answers = all_at_once(16, lambda _: client.get("/auth/me", headers=headers))
        assert [r.status_code for r in answers] == [200] * 16
