"""`fastapi-example migrate` against a MariaDB server without the database (issue 26): it
creates the database when the user may, and otherwise says so and exits at once, instead of
waiting DB_WAIT_SECONDS for a database nobody will create."""

import time
import uuid
from collections.abc import Iterator

import pytest

from tests.support import mariadb
from tests.support.api_process import api_env, run_migrate


@pytest.fixture
def name() -> Iterator[str]:
    """A database name nobody has used; the database is dropped afterwards if it was made."""
    mariadb.require()
    name = f"fe_missing_{uuid.uuid4().hex[:10]}"
    yield name
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def limited_user(name: str) -> Iterator[tuple[str, str]]:
    """A user granted on `name` only, without CREATE (the database does not exist)."""
    user, password = f"fe_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{name}`.* TO '{user}'@'%'")
    yield user, password
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def env(database: str, **overrides: str) -> dict[str, str]:
    # The two minutes of waiting that issue 26 met, so that a wait would show.
    settings = {**mariadb.settings_env(database), "DB_WAIT_SECONDS": "120", **overrides}
    return api_env(**settings)


def test_migrate_creates_a_missing_database_when_the_user_may(name: str):
    done = run_migrate(env(name))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created the database" in done.stdout + done.stderr
    with mariadb.connect(name) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM users")
        assert cursor.fetchone()[0] == 1  # migrated and seeded: the first admin


def test_migrate_says_plainly_that_the_database_is_missing(name: str, limited_user):
    user, password = limited_user
    started = time.monotonic()
    done = run_migrate(env(name, DB_USER=user, DB_PASSWORD=password), timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert time.monotonic() - started < 20, "migrate waited instead of failing"
    assert f"database '{name}' does not exist" in output
    assert "may not create it" in output
    assert "waiting for the database" not in output


def test_migrate_fails_at_once_when_the_user_may_not_use_the_database(name: str):
    # No grant at all: the server refuses the database without saying whether it exists.
    user, password = f"fe_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    try:
        started = time.monotonic()
        done = run_migrate(env(name, DB_USER=user, DB_PASSWORD=password), timeout=60)
    finally:
        with mariadb.connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert time.monotonic() - started < 20, "migrate waited instead of failing"
    assert f"user '{user}' cannot use database '{name}'" in output
