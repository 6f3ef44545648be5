"""A MariaDB outage under the running API: stop the server, check the API, start it again.

The test runs its own MariaDB server (same binaries, a private data folder and port), so
stopping it disturbs no other test and no one else using the shared server on :3306.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pymysql
import pytest

from tests.support.api_process import ADMIN, api_env, bearer, free_port, login, running_api
from tests.support.tools import require_tool, which

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]
ANSWER_WITHIN_SECONDS = 10  # a liveness bound (no hang), not a performance claim


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds}s"
        time.sleep(0.2)


class PrivateMariaDB:
    """mariadbd on 127.0.0.1:<free port> with a data folder of its own."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.process: subprocess.Popen | None = None
        self.as_root = os.geteuid() == 0  # mariadbd refuses to run as root: use mysql then

    def install(self) -> None:
        install = require_tool("mariadb-install-db", "apt-get install mariadb-server")
        if self.as_root:
            shutil.chown(self.root, "mysql", "mysql")
        user = ["--user=mysql"] if self.as_root else []
        subprocess.run(
            [install, "--no-defaults", f"--datadir={self.root}/data", *user, "--skip-test-db"],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        # /usr/sbin is not on every PATH.
        mariadbd = which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
        mariadbd = mariadbd or require_tool("mariadbd", "apt-get install mariadb-server")
        user = ["--user=mysql"] if self.as_root else []
        self.process = subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={self.root}/data",
                f"--socket={self.root}/mysqld.sock",
                f"--pid-file={self.root}/mysqld.pid",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                "--skip-grant-tables",  # a throwaway server: no accounts to set up
                "--skip-name-resolve",
                *user,
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "mariadbd.log").open("ab"),
        )
        wait_for(self.answers, 60, "the private MariaDB answering")

    def answers(self) -> bool:
        assert self.process.poll() is None, (self.root / "mariadbd.log").read_text()
        try:
            self.connect().close()
            return True
        except pymysql.err.OperationalError:
            return False

    def connect(self, database: str | None = None):
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", database=database, connect_timeout=2
        )

    def shutdown(self) -> None:
        admin = require_tool("mariadb-admin", "apt-get install mariadb-client")
        subprocess.run(
            [admin, "--protocol=tcp", "-h127.0.0.1", f"-P{self.port}", "-uroot", "shutdown"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.process.wait(60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)


@pytest.fixture
def database_server():
    # Not pytest's tmp_path: the mysql user must be able to reach the folder.
    server = PrivateMariaDB(Path(tempfile.mkdtemp(prefix="fe-outage-")))
    try:
        server.install()
        server.start()
        with server.connect() as conn, conn.cursor() as cursor:
            cursor.execute("CREATE DATABASE api CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.root, ignore_errors=True)


def timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_json_503(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"]
    assert elapsed < ANSWER_WITHIN_SECONDS


def test_the_api_survives_a_database_outage(database_server, tmp_path):
    env = api_env(
        DB_HOST="127.0.0.1",
        DB_PORT=str(database_server.port),
        DB_NAME="api",
        DB_USER="root",
        DB_PASSWORD="",
    )
    with running_api(env, tmp_path / "api.log") as api, api.client() as client:
        headers = bearer(login(client, *ADMIN))
        names = [f"kept-{i}-{uuid.uuid4().hex[:6]}" for i in range(20)]
        for name in names:
            created = client.post("/items", json={"name": name}, headers=headers)
            assert created.status_code == 201, created.text
        pid = api.process.pid

        database_server.shutdown()

        response, elapsed = timed(lambda: client.get("/readyz"))
        assert response.status_code == 503
        assert elapsed < ANSWER_WITHIN_SECONDS
        assert client.get("/healthz").status_code == 200
        for call in (
            lambda: client.get("/items", headers=headers),
            lambda: client.post("/items", json={"name": "lost"}, headers=headers),
            lambda: client.get("/users/1", headers=headers),
            lambda: client.post("/auth/token", json={"username": "admin", "password": "x"}),
            lambda: client.get("/versions"),
        ):
            assert_json_503(*timed(call))
        assert client.get("/healthz").status_code == 200

        database_server.start()

        # The same process recovers by itself.
        wait_for(lambda: client.get("/readyz").status_code == 200, 30, "/readyz ready again")
        assert api.process.poll() is None and api.process.pid == pid
        listed = client.get("/items", params={"limit": 100}, headers=headers)
        assert listed.status_code == 200, listed.text
        assert {item["name"] for item in listed.json()["items"]} == set(names)
        after = client.post(
            "/items", json={"name": f"after-{uuid.uuid4().hex[:6]}"}, headers=headers
        )
        assert after.status_code == 201, after.text
        assert client.get("/auth/me", headers=headers).status_code == 200


def test_a_frozen_database_answers_503_within_seconds_and_the_pool_recovers(
    database_server, tmp_path
):
    """The server stops answering without closing anything (SIGSTOP: a hung host, a network
    black hole): every request still answers, 503 with Retry-After, well before a client
    gives up; once the server runs again the same process serves as before."""
    env = api_env(
        DB_HOST="127.0.0.1",
        DB_PORT=str(database_server.port),
        DB_NAME="api",
        DB_USER="root",
        DB_PASSWORD="",
        DB_STATEMENT_TIMEOUT="2",
    )
    with running_api(env, tmp_path / "api.log") as api, api.client() as client:
        tokens = login(client, *ADMIN)
        headers = bearer(tokens)
        # Connections in the pool, each with a conversation under way when the server stops.
        for _ in range(3):
            assert client.get("/items", headers=headers).status_code == 200

        os.kill(database_server.process.pid, signal.SIGSTOP)
        try:
            for call in (
                lambda: client.get("/items", headers=headers),
                lambda: client.post("/items", json={"name": "frozen"}, headers=headers),
                lambda: client.get("/auth/me", headers=headers),
                lambda: client.post("/auth/refresh", json={"refresh_token": "x" * 64}),
                lambda: client.post("/auth/token", json={"username": "admin", "password": "x"}),
                lambda: client.patch(
                    "/users/1", json={"password": "a-new-password"}, headers=headers
                ),
            ):
                response, elapsed = timed(call)
                assert_json_503(response, elapsed)
                assert response.headers["Retry-After"] == "5"
            response, elapsed = timed(lambda: client.get("/readyz"))
            assert response.status_code == 503 and elapsed < ANSWER_WITHIN_SECONDS
            assert client.get("/healthz").status_code == 200
        finally:
            os.kill(database_server.process.pid, signal.SIGCONT)

        wait_for(lambda: client.get("/readyz").status_code == 200, 30, "/readyz ready again")
        assert client.get("/items", headers=headers).status_code == 200
        assert client.get("/auth/me", headers=headers).status_code == 200
        created = client.post(
            "/items", json={"name": f"thawed-{uuid.uuid4().hex[:6]}"}, headers=headers
        )
        assert created.status_code == 201, created.text
        refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text


def private_env(database_server, **settings: str) -> dict[str, str]:
    return api_env(
        DB_HOST="127.0.0.1",
        DB_PORT=str(database_server.port),
        DB_NAME="api",
        DB_USER="root",
        DB_PASSWORD="",
        **settings,
    )


def test_a_frozen_database_after_its_connections_were_cut_answers_503_within_seconds(
    database_server, tmp_path
):
    """The server closed the pool's idle connections (KILL, a restart, a proxy's idle cut),
    then stops answering: the pool, handed dead connections, opens a new one, whose greeting
    never comes. The request still answers 503 in seconds (it once waited for the server)."""
    env = private_env(database_server, DB_STATEMENT_TIMEOUT="2")
    with running_api(env, tmp_path / "api.log") as api, api.client() as client:
        headers = bearer(login(client, *ADMIN))
        for _ in range(3):
            assert client.get("/auth/me", headers=headers).status_code == 200
        with database_server.connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT id FROM information_schema.processlist WHERE db = 'api'")
            for (connection_id,) in cursor.fetchall():
                cursor.execute(f"KILL CONNECTION {int(connection_id)}")
        os.kill(database_server.process.pid, signal.SIGSTOP)
        try:
            assert_json_503(*timed(lambda: client.get("/auth/me", headers=headers)))
        finally:
            os.kill(database_server.process.pid, signal.SIGCONT)
        wait_for(lambda: client.get("/readyz").status_code == 200, 30, "/readyz ready again")


def test_requests_waiting_for_the_catalog_of_a_frozen_database_all_answer_503_in_time(
    database_server, tmp_path
):
    """The roles and versions cache went stale while the server is frozen: the requests that
    need it (the lists, every X-Version check) wait for one reload and fail with it, instead
    of each trying again after the one before it timed out."""
    env = private_env(database_server, DB_STATEMENT_TIMEOUT="2", VERSIONS_CACHE_SECONDS="0.5")
    with running_api(env, tmp_path / "api.log") as api, api.client() as client:
        headers = bearer(login(client, *ADMIN))
        assert client.get("/roles").status_code == 200
        calls = [
            lambda: client.get("/roles"),
            lambda: client.get("/versions"),
            lambda: client.get("/items", headers={**headers, "X-Version": "1.0"}),
        ] * 3
        os.kill(database_server.process.pid, signal.SIGSTOP)
        try:
            time.sleep(1)  # the cache is stale now
            with ThreadPoolExecutor(len(calls)) as pool:
                answers = list(pool.map(lambda call: timed(call), calls))
            for response, elapsed in answers:
                assert_json_503(response, elapsed)
        finally:
            os.kill(database_server.process.pid, signal.SIGCONT)
        wait_for(lambda: client.get("/roles").status_code == 200, 30, "/roles answered again")


# The MariaDB error each stop gives the statement it stops.
STOPPED_BY = {"max_statement_time": "MySQL error 1969", "KILL QUERY": "MySQL error 1317"}


@pytest.mark.parametrize("stop", list(STOPPED_BY))
def test_a_statement_the_server_stops_answers_503_not_500(database_server, tmp_path, stop):
    """A statement past the server's own time limit (max_statement_time) or killed there
    (KILL QUERY) is the database's doing, not a fault of the request: 503, as a lost server
    is, and nothing logged as an unhandled error. The statement stopped is one waiting for a
    row lock that another client holds."""
    with database_server.connect() as conn, conn.cursor() as cursor:
        if stop == "max_statement_time":  # for the API's connections, all made from now on
            cursor.execute("SET GLOBAL max_statement_time = 0.5")
        try:
            with running_api(private_env(database_server), tmp_path / "api.log") as api:
                with api.client() as client:
                    headers = bearer(login(client, *ADMIN))
                with database_server.connect("api") as holder, holder.cursor() as locking:
                    locking.execute("BEGIN")
                    locking.execute("SELECT id FROM users WHERE id = 1 FOR UPDATE")
                    with ThreadPoolExecutor(1) as pool, api.client() as client:
                        body = {"username": f"admin-{uuid.uuid4().hex[:6]}"}
                        waiting = pool.submit(
                            timed, lambda: client.patch("/users/1", json=body, headers=headers)
                        )
                        if stop == "KILL QUERY":
                            kill_the_apis_waiting_statement(cursor)
                        response, elapsed = waiting.result(timeout=60)
                    locking.execute("ROLLBACK")
                assert_json_503(response, elapsed)
            entries = api.log_entries()
            assert not [e for e in entries if e["level"] == "ERROR"]
            # Stopped by the server, not by the lock wait's own limit (1205).
            reasons = {e["reason"] for e in entries if e["message"] == "database unavailable"}
            assert reasons == {STOPPED_BY[stop]}
        finally:
            cursor.execute("SET GLOBAL max_statement_time = 0")


def kill_the_apis_waiting_statement(cursor) -> None:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        # The holder sits idle in its transaction: the one statement running in the API's
        # database is the API's, waiting for the lock.
        cursor.execute(
            "SELECT id FROM information_schema.processlist"
            " WHERE db = 'api' AND info IS NOT NULL AND id <> CONNECTION_ID()"
        )
        found = cursor.fetchall()
        if found:
            cursor.execute(f"KILL QUERY {int(found[0][0])}")
            return
        time.sleep(0.05)
    raise AssertionError("no statement of the API waited for the lock")


def test_a_write_answered_503_after_a_lock_wait_is_not_done_later(database_server, tmp_path):
    """Another client holds the row lock a write needs for longer than DB_STATEMENT_TIMEOUT:
    the write gets 503, and the server gives up on it too (it does not notice the API's
    closed connection while the statement waits for the lock): the 503 changed nothing."""
    with running_api(private_env(database_server), tmp_path / "api.log") as api:
        with api.client() as client:
            headers = bearer(login(client, *ADMIN))
        name = f"waits{uuid.uuid4().hex[:6]}"
        with database_server.connect("api") as holder, holder.cursor() as locking:
            locking.execute("BEGIN")
            locking.execute(  # the unique key's entry the API's INSERT will wait for
                "INSERT INTO users (username, username_key, hashed_password, role_id,"
                " activated, created_at, updated_at) VALUES (%s, %s, 'x', 2, 1, NOW(), NOW())",
                (name, name),
            )
            with api.client() as client:
                body = {"username": name, "password": "password-1234"}
                assert_json_503(*timed(lambda: client.post("/users", json=body, headers=headers)))
            time.sleep(1)  # past the server's lock wait, had it still been waiting
            locking.execute("ROLLBACK")
        with api.client() as client:
            listed = client.get("/users", params={"username": name}, headers=headers)
        assert listed.json()["total"] == 0, listed.text


def test_writes_queued_behind_one_locked_row_leave_the_pod_ready(database_server, tmp_path):
    """Every pooled connection waits for one hot row's lock while the database answers:
    /readyz stays 200. A probe that took its turn at the pool would time out, and take
    every replica out of its Service at once, the reads with them."""
    with running_api(private_env(database_server, DB_POOL_SIZE="2"), tmp_path / "api.log") as api:
        with api.client() as client:
            headers = bearer(login(client, *ADMIN))
            name = f"hot-{uuid.uuid4().hex[:6]}"
            hot = client.post("/items", json={"name": name}, headers=headers)
        path = f"/items/{hot.json()['id']}"

        def patch(number: int) -> int:
            with api.client() as client:
                body = {"description": f"edit {number}"}
                return client.patch(path, json=body, headers=headers).status_code

        with database_server.connect("api") as holder, holder.cursor() as locking:
            locking.execute("BEGIN")
            locking.execute("SELECT id FROM items WHERE id = %s FOR UPDATE", (hot.json()["id"],))
            with ThreadPoolExecutor(4) as pool:
                patches = [pool.submit(patch, number) for number in range(4)]
                time.sleep(1)  # two of them hold the pool's connections, two wait for a turn
                with api.client() as client:
                    ready = client.get("/readyz")
                locking.execute("ROLLBACK")
                statuses = [done.result() for done in patches]
    assert ready.status_code == 200, ready.text
    assert statuses == [200] * 4


def test_a_login_the_database_fails_is_not_a_failed_login(database_server, tmp_path):
    """The users table locked past DB_STATEMENT_TIMEOUT: each login gets 503, and gives
    its place in the throttle back, so the right password works when the database does."""
    env = private_env(database_server, DB_STATEMENT_TIMEOUT="2", LOGIN_MAX_FAILURES="2")
    credentials = {"username": ADMIN[0], "password": ADMIN[1]}
    with running_api(env, tmp_path / "api.log") as api, api.client() as client:
        with database_server.connect("api") as holder, holder.cursor() as locking:
            locking.execute("LOCK TABLES users WRITE")
            for _ in range(3):  # more than LOGIN_MAX_FAILURES
                assert_json_503(*timed(lambda: client.post("/auth/token", json=credentials)))
            locking.execute("UNLOCK TABLES")
        login(client, *ADMIN)
