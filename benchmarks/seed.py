"""Fast seeding of the benchmark database: users, items and sessions as bulk SQL.

The schema comes from `fastapi-example migrate`; this only adds rows. Rows the API reads with
a token get real tokens (their SHA-256 digests are stored), written to files for wrk's scripts.
"""

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta

import pymysql

PASSWORD = "bench-user-password"
NOW = datetime.now(UTC).replace(tzinfo=None)
LIVE_UNTIL = NOW + timedelta(days=1)
# The MariaDB account the benchmarks use: it creates and drops their databases and sets the
# buffer pool. Debian's root logs in through the socket only: name another account then.
MYSQL_USER = os.environ.get("BENCH_MYSQL_USER", "root")
MYSQL_PASSWORD = os.environ.get("BENCH_MYSQL_PASSWORD", "")


def connect(database: str | None = None) -> pymysql.Connection:
    return pymysql.connect(
        host="127.0.0.1",
        user=MYSQL_USER,
        password=MYSQL_PASSWORD,
        database=database,
        autocommit=True,
    )


def fresh_database(name: str) -> None:
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


def drop_database(name: str) -> None:
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seed_users(conn, count: int, hashed_password: str) -> list[int]:
    """`count` users named bench0001…, all with PASSWORD; returns their ids.

    Names are looked up by their key (names.username_key: NFKC, lower case), which for these
    is the name itself; a schema from before the key (BENCH_COMPARE's older API) has none."""
    with conn.cursor() as cur:
        cur.execute("SHOW COLUMNS FROM users LIKE 'username_key'")
        keyed = cur.fetchone() is not None
        names = [f"bench{n:04d}" for n in range(1, count + 1)]
        if keyed:
            cur.executemany(
                "INSERT INTO users (username, username_key, hashed_password, role_id, activated,"
                " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(name, name, hashed_password, 2, 1, NOW, NOW) for name in names],
            )
        else:
            cur.executemany(
                "INSERT INTO users (username, hashed_password, role_id, activated, created_at,"
                " updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
                [(name, hashed_password, 2, 1, NOW, NOW) for name in names],
            )
        cur.execute("SELECT id FROM users WHERE username LIKE 'bench%%' ORDER BY id")
        return [row[0] for row in cur.fetchall()]


def seed_items(conn, count: int, user_ids: list[int]) -> None:
    """Items item-0000001… spread over the users, in one INSERT … SELECT per 100k rows."""
    first, users = user_ids[0], len(user_ids)
    with conn.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM items")
        start = cur.fetchone()[0] + 1
        for low in range(start, start + count, 100_000):
            high = min(low + 99_999, start + count - 1)
            cur.execute(
                "INSERT INTO items (id, name, description, user_id, created_at, updated_at)"  # noqa: S608 - constant SQL fragments, values bound
                " SELECT seq, CONCAT('item-', LPAD(seq, 7, '0')),"
                " CONCAT('Description of item ', seq), %s + seq MOD %s,"
                " UTC_TIMESTAMP(), UTC_TIMESTAMP()"
                f" FROM seq_{low}_to_{high}",
                (first, users),
            )


def seed_sessions(conn, user_ids: list[int], count: int) -> list[tuple[int, str, str]]:
    """`count` live sessions round-robin over user_ids: [(user_id, access, refresh)]."""
    sessions = [
        (user_ids[n % len(user_ids)], secrets.token_urlsafe(48), secrets.token_urlsafe(48))
        for n in range(count)
    ]
    rows = [(uid, _digest(a), LIVE_UNTIL, _digest(r), LIVE_UNTIL, NOW) for uid, a, r in sessions]
    with conn.cursor() as cur:
        for low in range(0, len(rows), 5000):
            cur.executemany(
                "INSERT INTO tokens (user_id, access_token_hash, access_expires_at,"
                " refresh_token_hash, refresh_expires_at, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                rows[low : low + 5000],
            )
    return sessions


def seed_expired_sessions(conn, count: int, user_ids: list[int]) -> None:
    """`count` sessions expired yesterday (digests of nothing anyone holds), in SQL."""
    first, users = user_ids[0], len(user_ids)
    with conn.cursor() as cur:
        cur.execute("SET unique_checks = 0")  # the digests are distinct by construction
        for low in range(1, count + 1, 100_000):
            high = min(low + 99_999, count)
            cur.execute(
                "INSERT INTO tokens (user_id, access_token_hash, access_expires_at,"  # noqa: S608 - constant SQL fragments, values bound
                " refresh_token_hash, refresh_expires_at, created_at)"
                " SELECT %s + seq MOD %s, SHA2(CONCAT('a', seq), 256),"
                " UTC_TIMESTAMP() - INTERVAL 2 DAY, SHA2(CONCAT('r', seq), 256),"
                " UTC_TIMESTAMP() - INTERVAL 1 DAY, UTC_TIMESTAMP() - INTERVAL 3 DAY"
                f" FROM seq_{low}_to_{high}",
                (first, users),
            )
        cur.execute("SET unique_checks = 1")


def items_owned(conn, user_id: int, limit: int) -> list[int]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM items WHERE user_id = %s ORDER BY id LIMIT %s", (user_id, limit)
        )
        return [row[0] for row in cur.fetchall()]
