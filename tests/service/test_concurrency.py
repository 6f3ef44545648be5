"""Concurrency on MariaDB, against the real server and the API served by uvicorn."""

import random
import subprocess
import time
import uuid

import pytest

from tests.support import mariadb
from tests.support.api_process import ADMIN, COMMAND, all_at_once, api_env, bearer, login, served
from tests.support.tools import REPO

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    with mariadb.fresh_database() as name, served(tmp, name, MAX_SESSIONS_PER_USER="2") as api:
        api.database = name
        yield api


def test_concurrent_creates_of_one_name_give_one_201(api):
    with api.client() as client:
        headers = bearer(login(client, *ADMIN))
    name = f"race-{uuid.uuid4().hex[:8]}"

    def create(_):
        with api.client() as client:
            return client.post("/items", json={"name": name}, headers=headers).status_code

    statuses = all_at_once(20, create)
    assert sorted(statuses) == [201] + [409] * 19
    with mariadb.connect(api.database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM items WHERE name = %s", (name,))
        assert cursor.fetchone()[0] == 1


def new_user(api, prefix: str) -> tuple[dict[str, str], str, str, int]:
    """The admin's headers, and a new user's name, password and id."""
    username, password = f"{prefix}{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    with api.client() as client:
        admin = bearer(login(client, *ADMIN))
        created = client.post(
            "/users", json={"username": username, "password": password}, headers=admin
        )
        assert created.status_code == 201, created.text
    return admin, username, password, created.json()["id"]


def test_concurrent_logins_keep_max_sessions(api):
    _, username, password, user_id = new_user(api, "racer")

    def log_in(n):
        # From ten addresses: more logins of one user from one address at once than
        # LOGIN_MAX_FAILURES are throttled while they are checked (docs/api.md).
        with api.client(headers={"X-Forwarded-For": f"192.0.2.{n + 1}"}) as client:
            return login(client, username, password)

    pairs = all_at_once(10, log_in)
    with mariadb.connect(api.database) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM tokens WHERE user_id = %s", (user_id,))
        sessions = cursor.fetchone()[0]
    max_sessions = int(api.env["MAX_SESSIONS_PER_USER"])
    assert sessions == max_sessions
    with api.client() as client:
        statuses = [client.get("/auth/me", headers=bearer(p)).status_code for p in pairs]
    assert sorted(statuses) == [200] * max_sessions + [401] * (10 - max_sessions)


def test_concurrent_logins_of_many_users_never_fail(api):
    """Logins of neighbouring users touch neighbouring index entries: no deadlock may reach a
    client (seen as 500s under REPEATABLE READ's gap locks before the fix)."""
    accounts = [(f"crowd{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex) for _ in range(8)]
    with api.client() as client:
        admin = bearer(login(client, *ADMIN))
        for username, password in accounts:
            body = {"username": username, "password": password}
            assert client.post("/users", json=body, headers=admin).status_code == 201

    def log_in(n):
        username, password = accounts[n % len(accounts)]
        with api.client() as client:
            body = {"username": username, "password": password}
            return client.post("/auth/token", json=body).status_code

    for _ in range(3):
        assert all_at_once(32, log_in) == [200] * 32


def test_concurrent_creates_of_one_username_give_one_201(api):
    with api.client() as client:
        headers = bearer(login(client, *ADMIN))
    username = f"twin{uuid.uuid4().hex[:8]}"

    def create(_):
        with api.client() as client:
            body = {"username": username, "password": "pw-" + uuid.uuid4().hex}
            return client.post("/users", json=body, headers=headers).status_code

    assert sorted(all_at_once(10, create)) == [201] + [409] * 9


def test_concurrent_refreshes_of_one_token_all_get_the_one_new_pair(api):
    """Ten tabs refresh at once: one exchange happens, the others come within the grace
    period and get the same new pair, and the session lives on."""
    with api.client() as client:
        tokens = login(client, *ADMIN)

    def refresh(_):
        with api.client() as client:
            body = {"refresh_token": tokens["refresh_token"]}
            return client.post("/auth/refresh", json=body)

    responses = all_at_once(10, refresh)
    assert [r.status_code for r in responses] == [200] * 10
    pairs = {(r.json()["access_token"], r.json()["refresh_token"]) for r in responses}
    assert len(pairs) == 1
    ((access, refresh_token),) = pairs
    with api.client() as client:
        assert client.get("/auth/me", headers=bearer({"access_token": access})).status_code == 200
        body = {"refresh_token": refresh_token}
        assert client.post("/auth/refresh", json=body).status_code == 200


def test_user_changes_racing_the_users_refreshes_never_fail(api):
    """An admin resets a user's password or disables the account while the user's tabs
    refresh, an exchanged token among them: each change is made (no deadlock may reach the
    admin as a 503), and each refresh gets new tokens or 401."""
    admin, username, password, user_id = new_user(api, "tabs")
    user = f"/users/{user_id}"
    for round_ in range(100):
        with api.client() as client:
            if round_ % 2 == 0 and round_:  # disabled in the round before
                enabled = client.patch(user, json={"activated": True}, headers=admin)
                assert enabled.status_code == 200, enabled.text
            tokens = login(client, username, password)
        # The password is reset to the same one, so that the user logs in again next round.
        method, body = [("PATCH", {"password": password}), ("DELETE", None)][round_ % 2]

        def race(n, method=method, body=body, refresh_token=tokens["refresh_token"]):
            with api.client() as client:
                if n == 0:
                    return client.request(method, user, json=body, headers=admin).status_code
                return client.post("/auth/refresh", json={"refresh_token": refresh_token})

        change, *refreshes = all_at_once(4, race)
        assert change == (200 if method == "PATCH" else 204), (round_, method, change)
        assert {r.status_code for r in refreshes} <= {200, 401}, [r.text for r in refreshes]


def test_a_login_racing_a_disable_or_a_reset_keeps_no_session(api):
    """A login checks the password, then opens its session; an admin disables the account or
    resets its password in between. The change ended every session it found, and the login's
    must not outlive it either (8 of 30 did, found by a red-team run)."""
    admin, username, password, user_id = new_user(api, "late")
    user = f"/users/{user_id}"
    for round_ in range(40):
        method, body = [("DELETE", None), ("PATCH", {"password": "pw-" + uuid.uuid4().hex})][
            round_ % 2
        ]

        def race(n, method=method, body=body):
            with api.client() as client:
                if n == 0:
                    body = {"username": username, "password": password}
                    return client.post("/auth/token", json=body).status_code
                time.sleep(random.uniform(0, 0.06))  # somewhere in the login's work
                return client.request(method, user, json=body, headers=admin).status_code

        logged_in, changed = all_at_once(2, race)
        assert logged_in in (200, 401, 403) and changed in (200, 204), (logged_in, changed)
        with mariadb.connect(api.database) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM tokens WHERE user_id = %s", (user_id,))
            assert cursor.fetchone()[0] == 0, (round_, method, logged_in)
        with api.client() as client:  # as before the round
            restored = {"activated": True} if method == "DELETE" else {"password": password}
            assert client.patch(user, json=restored, headers=admin).status_code == 200


def test_an_admin_never_disables_a_user_another_admin_just_promoted(api):
    """One admin promotes a user while another disables it: an admin account is changed
    only by itself, so the disable is refused when the promotion came first (it was checked
    on the row read before its transaction: 8 of 20 went through, in a red-team run)."""
    with api.client() as client:
        first = bearer(login(client, *ADMIN))
        second_admin = (f"second{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex)
        body = {"username": second_admin[0], "password": second_admin[1], "role_id": 1}
        assert client.post("/users", json=body, headers=first).status_code == 201
        second = bearer(login(client, *second_admin))
    for _ in range(20):
        with api.client() as client:
            body = {"username": f"target{uuid.uuid4().hex[:8]}", "password": "pw-12345678"}
            target = f"/users/{client.post('/users', json=body, headers=first).json()['id']}"

        def race(n, target=target):
            with api.client() as client:
                if n == 0:
                    return client.patch(target, json={"role_id": 1}, headers=first)
                return client.delete(target, headers=second)

        promoted, disabled = all_at_once(2, race)
        assert promoted.status_code == 200, promoted.text
        # The promotion's answer reads the row after its commit: still active there means
        # it committed before the disable did.
        if promoted.json()["activated"]:
            assert disabled.status_code == 403, (disabled.status_code, promoted.json())


def count(database: str, query: str) -> int:
    with mariadb.connect(database) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def test_two_migrations_at_once_both_succeed_and_seed_once(tmp_path):
    with mariadb.fresh_database() as name:
        env = api_env(**mariadb.settings_env(name))
        runs = [
            subprocess.Popen(
                [*COMMAND, "migrate"],
                env=env,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=180)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert count(name, "SELECT COUNT(*) FROM users") == 1
        assert count(name, "SELECT COUNT(*) FROM users WHERE role_id = 1") == 1
        assert count(name, "SELECT COUNT(*) FROM roles") == 2
        assert count(name, "SELECT COUNT(*) FROM versions") == 9
        assert count(name, "SELECT COUNT(*) FROM alembic_version") == 1
        # Both really ran: each one logged its own end.
        assert all("database migrated and seeded" in output for output in outputs), outputs
