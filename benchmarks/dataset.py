"""The benchmark data set: a fresh, migrated database plus the files wrk's scripts read."""

import subprocess
import time
from pathlib import Path

import seed

# One file per wrk run of POST /auth/refresh (refresh tokens are good once), and one for each
# server's one-request check (procs.check).
REFRESH_RUNS = [
    "refresh-api-warm.txt",
    "refresh-api.txt",
    "refresh-baseline-warm.txt",
    "refresh-baseline.txt",
    "refresh-api-check.txt",
    "refresh-baseline-check.txt",
    # The other checkout's API, when run.py compares two (BENCH_COMPARE).
    "refresh-old-warm.txt",
    "refresh-old.txt",
    "refresh-old-check.txt",
]


def build(env: dict, data_dir: Path, users: int, items: int, sessions: int) -> dict:
    """Migrate a fresh database, seed it, write the token files; returns timings."""
    from fastapi_example.security import hash_password

    timings = {}
    seed.fresh_database(env["DB_NAME"])
    started = time.monotonic()
    subprocess.run(["fastapi-example", "migrate"], env=env, check=True, capture_output=True)
    timings["migrate_s"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    with seed.connect(env["DB_NAME"]) as conn:
        hashed = hash_password(seed.PASSWORD, env["PASSWORD_PEPPER"])
        user_ids = seed.seed_users(conn, users, hashed)
        seed.seed_items(conn, items, user_ids)
        # Users' sessions serve one kind of request each: reads and item writes (80 %),
        # refresh (10 %, their tokens rotate), login (10 %, logins end their older sessions).
        readers = user_ids[: len(user_ids) * 8 // 10]
        refreshers = user_ids[len(readers) : len(user_ids) * 9 // 10]
        login_users = user_ids[len(readers) + len(refreshers) :]
        read_sessions = seed.seed_sessions(conn, readers, sessions * 8 // 10)
        refresh_sessions = seed.seed_sessions(conn, refreshers, sessions - len(read_sessions))
        owned = [
            f"{access} {item_id}"
            for user_id, access, _ in read_sessions[:200]
            for item_id in seed.items_owned(conn, user_id, 5)
        ]
    timings["seed_s"] = round(time.monotonic() - started, 2)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tokens.txt").write_text("".join(f"{a}\n" for _, a, _ in read_sessions))
    for n, name in enumerate(REFRESH_RUNS):
        tokens = refresh_sessions[n :: len(REFRESH_RUNS)]
        (data_dir / name).write_text("".join(f"{r}\n" for _, _, r in tokens))
    (data_dir / "owned.txt").write_text("".join(f"{line}\n" for line in owned))
    first_login = len(user_ids) - len(login_users) + 1
    names = "".join(f"bench{n:04d}\n" for n in range(first_login, len(user_ids) + 1))
    (data_dir / "login_users.txt").write_text(names)
    return timings


def copy(source: str, env: dict, command: str) -> None:
    """The data set of database `source` in a database of its own for another checkout's API
    (BENCH_COMPARE), whose schema may be older: migrated by that checkout's `command`, then
    every table's rows copied in the columns both schemas have."""
    target = env["DB_NAME"]
    seed.fresh_database(target)
    subprocess.run([command, "migrate"], env=env, check=True, capture_output=True)
    with seed.connect(target) as conn, conn.cursor() as cur:

        def columns(database: str, table: str) -> list[str]:
            cur.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (database, table),
            )
            return [row[0] for row in cur.fetchall()]

        cur.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (target,),
        )
        tables = [row[0] for row in cur.fetchall() if row[0] != "alembic_version"]
        cur.execute("SET foreign_key_checks = 0")
        for table in tables:
            shared = set(columns(source, table))
            names = ", ".join(f"`{c}`" for c in columns(target, table) if c in shared)
            cur.execute(f"DELETE FROM `{table}`")  # noqa: S608 - what its migration seeded
            if names:
                cur.execute(
                    f"INSERT INTO `{table}` ({names}) SELECT {names} FROM `{source}`.`{table}`"  # noqa: S608 - names from information_schema
                )
        cur.execute("SET foreign_key_checks = 1")
