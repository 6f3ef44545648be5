"""`fastapi-example migrate` on SQLite and MariaDB: schema, seed, idempotence, failures."""

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text
from sqlmodel import SQLModel

from fastapi_example import models  # noqa: F401 - registers the tables
from fastapi_example.migrate import LOCK_NAME
from fastapi_example.names import username_key
from fastapi_example.settings import PACKAGE_DIR
from tests.support import mariadb
from tests.support.api_process import COMMAND, api_env, free_port, run_migrate
from tests.support.tools import REPO

TABLES = {
    "alembic_version",
    "items",
    "login_throttle",
    "roles",
    "row_counts",
    "rotated_refresh_tokens",
    "tokens",
    "users",
    "versions",
}


@pytest.fixture(params=["sqlite", "mariadb"])
def database(request, tmp_path) -> Iterator[tuple[dict[str, str], str]]:
    """(the API's environment, a SQLAlchemy URL) for a fresh, empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/migrate.db"
        yield api_env(DATABASE_URL=url), url
        return
    with mariadb.fresh_database() as name:
        url = f"mysql+pymysql://{mariadb.USER}:{mariadb.PASSWORD}@{mariadb.HOST}:{mariadb.PORT}/{name}"
        yield api_env(**mariadb.settings_env(name)), url


def migrate_ok(env: dict[str, str]) -> str:
    result = run_migrate(env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def downgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


@contextmanager
def migrate_waiting(env: dict[str, str], seconds: float) -> Iterator[SimpleNamespace]:
    """A migrate started now and still running `seconds` later; the block lets it go on, and
    it must then end well: `.stdout` has its log."""
    process = subprocess.Popen(
        [*COMMAND, "migrate"], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(seconds)
        assert process.poll() is None, process.stdout.read()
        finished = SimpleNamespace(stdout="")
        yield finished
        finished.stdout, _ = process.communicate(timeout=120)
        assert process.returncode == 0, finished.stdout
    finally:
        process.kill()


def rows(url: str, query: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def test_schema_matches_the_models(database):
    env, url = database
    migrate_ok(env)
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_migrate_twice_seeds_once_and_keeps_the_admin_password(database):
    env, url = database
    migrate_ok(env)
    (first_hash,) = rows(url, "SELECT hashed_password FROM users")[0]
    migrate_ok({**env, "ADMIN_PASSWORD": "another-password-entirely"})
    assert rows(url, "SELECT username, role_id FROM users") == [(env["ADMIN_USERNAME"], 1)]
    assert rows(url, "SELECT hashed_password FROM users") == [(first_hash,)]
    assert rows(url, "SELECT id, name FROM roles ORDER BY id") == [(1, "admin"), (2, "user")]
    versions = rows(url, "SELECT version, supported FROM versions ORDER BY version")
    assert len(versions) == 9
    assert [v for v, supported in versions if supported] == ["1.0"]
    assert len(rows(url, "SELECT version_num FROM alembic_version")) == 1


def test_an_admin_name_differing_only_in_case_is_the_same_admin(database):
    env, url = database
    migrate_ok(env)
    migrate_ok({**env, "ADMIN_USERNAME": env["ADMIN_USERNAME"].upper()})
    assert rows(url, "SELECT username, role_id FROM users") == [(env["ADMIN_USERNAME"], 1)]


def execute(url: str, statement: str, **params) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


def test_an_admin_that_renamed_itself_is_not_created_again(database):
    """migrate runs at every start: ADMIN_USERNAME is the first admin, not one for good."""
    env, url = database
    migrate_ok(env)
    execute(
        url, "UPDATE users SET username = 'chief', username_key = :key", key=username_key("chief")
    )
    migrate_ok(env)
    assert rows(url, "SELECT username, role_id FROM users") == [("chief", 1)]


def test_without_an_admin_the_name_of_a_user_is_not_taken_over(database):
    """A database with no admin (one demoted by hand) whose ADMIN_USERNAME is a user: the
    break-glass is asked for, not done by itself."""
    env, url = database
    migrate_ok(env)
    execute(url, "UPDATE users SET role_id = 2")
    log = migrate_ok(env)
    assert rows(url, "SELECT username, role_id FROM users") == [(env["ADMIN_USERNAME"], 2)]
    warning = next(json.loads(line) for line in log.splitlines() if "restore-admin" in line)
    assert warning["level"] == "WARNING"


def test_the_versions_table_mirrors_the_versions_file(database, tmp_path):
    env, url = database
    migrate_ok(env)
    versions_file = tmp_path / "versions.json"
    versions_file.write_text(
        json.dumps(
            [
                {"version": "0.8", "supported": False},
                {"version": "1.0", "supported": False},
                {"version": "1.1", "supported": True},
            ]
        )
    )
    migrate_ok({**env, "VERSIONS_FILE": str(versions_file)})
    assert rows(url, "SELECT version, supported FROM versions ORDER BY version") == [
        ("0.8", False),
        ("1.0", False),
        ("1.1", True),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"version": "2.0.0-rc.1+build.12345", "supported": True},  # longer than the column
        {"version": " 2.0", "supported": True},  # X-Version is read without the space
        {"version": "", "supported": True},
        {"version": 2.0, "supported": True},
        {"version": "2.0", "supported": "false"},
    ],
)
def test_a_version_no_client_can_send_is_refused_and_the_table_kept(database, tmp_path, entry):
    env, url = database
    migrate_ok(env)
    before = rows(url, "SELECT version, supported FROM versions ORDER BY version")
    versions_file = tmp_path / "versions.json"
    versions_file.write_text(json.dumps([{"version": "1.0", "supported": True}, entry]))
    result = run_migrate({**env, "VERSIONS_FILE": str(versions_file)})
    assert result.returncode == 1
    failure = json.loads(result.stdout.splitlines()[-1])
    assert failure["message"] == "migrate failed" and "VERSIONS_FILE" in failure["error"]
    assert rows(url, "SELECT version, supported FROM versions ORDER BY version") == before


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ab", "must be 3 to 30 characters long"),
        ("a-very-long-administrator-name-of-40-ch", "must be 3 to 30 characters long"),
        ("the admin", "may contain only letters, digits and . _ -"),
    ],
)
def test_an_admin_name_no_login_accepts_is_not_created(database, name, reason):
    env, url = database
    result = run_migrate({**env, "ADMIN_USERNAME": name})
    assert result.returncode == 1
    failure = json.loads(result.stdout.splitlines()[-1])
    assert failure["error"] == f"ValueError: ADMIN_USERNAME {reason}"
    assert rows(url, "SELECT username FROM users") == []  # the seed is one transaction
    migrate_ok(env)
    assert rows(url, "SELECT username, role_id FROM users") == [(env["ADMIN_USERNAME"], 1)]


def test_an_admin_password_longer_than_a_login_takes_is_refused(database):
    env, url = database
    password = "p" * 129
    for args in (["migrate"], ["migrate", "--restore-admin"]):
        result = subprocess.run(
            [*COMMAND, *args],
            env={**env, "ADMIN_PASSWORD": password},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1
        failure = json.loads(result.stdout.splitlines()[-1])
        assert failure["error"] == "ValueError: ADMIN_PASSWORD must be at most 128 characters long"
        assert password not in result.stdout + result.stderr
    assert rows(url, "SELECT username FROM users") == []


def test_downgrade_to_base_and_upgrade_again(database):
    env, url = database
    migrate_ok(env)
    downgrade(url, "base")
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    migrate_ok(env)
    assert len(rows(url, "SELECT id FROM versions")) == 9


def test_a_migrate_waits_for_the_lock_longer_than_a_read_timeout():
    # Another migrate holds the lock past the driver's usual read timeout (30 s): this one
    # waits, saying so in its log, then migrates.
    with mariadb.fresh_database() as name:
        env = api_env(**mariadb.settings_env(name))
        with mariadb.connect(name) as holder, holder.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0)", (LOCK_NAME,))
            assert cursor.fetchone() == (1,)
            with migrate_waiting(env, 35) as waiting:
                cursor.execute("SELECT RELEASE_LOCK(%s)", (LOCK_NAME,))
    messages = [json.loads(line)["message"] for line in waiting.stdout.splitlines()]
    assert "waiting for the migration lock" in messages
    assert messages[-1] == "database migrated and seeded"


@pytest.mark.parametrize("database", ["mariadb"], indirect=True)
def test_a_schema_change_may_wait_longer_than_a_read_timeout(database):
    # A transaction that read login_failures holds the table's metadata lock: the last
    # migration's DROP TABLE waits for it past the driver's usual read timeout (30 s).
    env, url = database
    migrate_ok(env)
    downgrade(url, "0006")
    with mariadb.connect(make_url(url).database) as reader, reader.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT COUNT(*) FROM login_failures")
        with migrate_waiting(env, 35):
            cursor.execute("COMMIT")
    assert "login_failures" not in [row[0] for row in rows(url, "SHOW TABLES")]


def test_an_unreachable_database_fails_after_the_bounded_wait():
    env = api_env(
        **{**mariadb.settings_env("fe_test_none"), "DB_PORT": str(free_port())},
        DB_WAIT_SECONDS="2",
    )
    started = time.monotonic()
    result = run_migrate(env, timeout=60)
    assert result.returncode == 1
    assert time.monotonic() - started < 30  # bounded: it gave up, it did not hang
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["level"] == "ERROR"
    assert last["message"] == "migrate failed"
    assert "OperationalError" in last["error"]
    assert any(
        json.loads(line).get("message") == "waiting for the database"
        for line in result.stdout.splitlines()
    )


def test_a_database_that_takes_the_connection_and_never_answers_fails_the_wait():
    """What a frozen server does (its kernel still completes the TCP handshake): migrate
    gives up after the usual read timeout, not after the hour a schema change may take."""
    port = free_port()
    with socket.create_server(("127.0.0.1", port), backlog=16):  # listens, never accepts
        env = api_env(
            **{**mariadb.settings_env("fe_test_silent"), "DB_PORT": str(port)},
            DB_WAIT_SECONDS="1",
        )
        started = time.monotonic()
        result = run_migrate(env, timeout=300)
        waited = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert waited < 120  # one read timeout (30 s); the schema changes' would be 3600 s
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["message"] == "migrate failed"
    assert "OperationalError" in last["error"]


@pytest.mark.parametrize(
    ("password", "refused"),
    # The dev default anywhere; none at all only where it is read (serve runs without it).
    [("admin", (["migrate"], ["serve"])), ("", (["migrate"],))],
)
def test_production_refuses_default_credentials(tmp_path, password, refused):
    env = api_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/prod.db",
        ENVIRONMENT="production",
        ADMIN_PASSWORD=password,
        PASSWORD_PEPPER="a-pepper-for-this-test",
    )
    for args in refused:
        result = subprocess.run(
            [*COMMAND, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "ADMIN_PASSWORD" in result.stderr
    assert not (tmp_path / "prod.db").exists()


def test_production_requires_a_pepper(tmp_path):
    env = api_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/prod.db",
        ENVIRONMENT="production",
        ADMIN_PASSWORD="a-real-admin-password",
        PASSWORD_PEPPER="",
    )
    result = run_migrate(env)
    assert result.returncode == 2
    assert "PASSWORD_PEPPER" in result.stderr
