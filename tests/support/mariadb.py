"""Fresh databases on the MariaDB server at 127.0.0.1:3306 (required in CI)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.tools import missing

HOST = os.environ.get("TEST_MYSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("TEST_MYSQL_PORT", "3306"))
USER = os.environ.get("TEST_MYSQL_USER", "root")
PASSWORD = os.environ.get("TEST_MYSQL_PASSWORD", "")


def connect(database: str | None = None, **kwargs):
    import pymysql

    return pymysql.connect(
        host=HOST,
        port=PORT,
        user=USER,
        password=PASSWORD,
        database=database,
        connect_timeout=3,
        autocommit=True,
        **kwargs,
    )


def available() -> bool:
    try:
        connect().close()
        return True
    except Exception:
        return False


def require() -> None:
    if not available():
        missing(f"MariaDB is not reachable at {HOST}:{PORT} (start it: see README, Testing)")


@contextmanager
def fresh_database(prefix: str = "fe_test") -> Iterator[str]:
    """A new, empty database (utf8mb4), dropped afterwards."""
    require()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield name
    finally:
        if available():
            with connect() as conn, conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def settings_env(database: str) -> dict[str, str]:
    """Environment variables that point the API at a database on this server."""
    return {
        "DB_HOST": HOST,
        "DB_PORT": str(PORT),
        "DB_NAME": database,
        "DB_USER": USER,
        "DB_PASSWORD": PASSWORD,
    }
