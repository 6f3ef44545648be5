"""The CronJob's command, `python3 -m cronjobs.token_cleanup`, on MariaDB."""

import json
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from tests.support import mariadb
from tests.support.api_process import api_env, free_port, run_migrate
from tests.support.tools import REPO

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]
EXPIRED, LIVE = 10_000, 100


def cleanup(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cronjobs.token_cleanup"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def insert_sessions(cursor, user_id: int, count: int, refresh_expires_at: datetime) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    cursor.executemany(
        "INSERT INTO tokens (user_id, access_token_hash, access_expires_at,"
        " refresh_token_hash, refresh_expires_at, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
        [
            (user_id, secrets.token_hex(32), now, secrets.token_hex(32), refresh_expires_at, now)
            for _ in range(count)
        ],
    )


@contextmanager
def migrated_database(**settings: str) -> Iterator[tuple[str, dict[str, str], int]]:
    """A fresh, migrated database: its name, the job's environment, the seeded admin's id."""
    with mariadb.fresh_database() as name:
        env = api_env(**mariadb.settings_env(name), **settings)
        migrated = run_migrate(env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        with mariadb.connect(name) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT id FROM users")
            (user_id,) = cursor.fetchone()
        yield name, env, user_id


def test_deletes_every_expired_session_and_keeps_the_live_ones():
    with migrated_database(TOKEN_CLEANUP_BATCH_SIZE="1000") as (name, env, user_id):
        now = datetime.now(UTC).replace(tzinfo=None)
        with mariadb.connect(name) as conn, conn.cursor() as cursor:
            insert_sessions(cursor, user_id, EXPIRED, now - timedelta(minutes=1))
            insert_sessions(cursor, user_id, LIVE, now + timedelta(days=30))
            cursor.execute(
                "SELECT id FROM tokens WHERE refresh_expires_at > %s ORDER BY id", (now,)
            )
            live_ids = [row[0] for row in cursor.fetchall()]
            # A rotated digest of a live session stays; one of an expired session goes with it.
            cursor.execute("SELECT MIN(id) FROM tokens")
            (expired_id,) = cursor.fetchone()
            cursor.executemany(
                "INSERT INTO rotated_refresh_tokens (refresh_token_hash, token_id, expires_at)"
                " VALUES (%s, %s, %s)",
                [
                    (secrets.token_hex(32), live_ids[0], now + timedelta(days=30)),
                    (secrets.token_hex(32), expired_id, now - timedelta(minutes=1)),
                ],
            )

        result = cleanup(env)

        assert result.returncode == 0, result.stdout + result.stderr
        lines = json_lines(result.stdout)
        summaries = [line for line in lines if line["message"] == "token cleanup finished"]
        assert len(summaries) == 1, result.stdout
        assert summaries[0]["deleted_sessions"] == EXPIRED
        assert summaries[0]["largest_batch"] <= 1000
        with mariadb.connect(name) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT id FROM tokens ORDER BY id")
            assert [row[0] for row in cursor.fetchall()] == live_ids
            cursor.execute("SELECT token_id FROM rotated_refresh_tokens")
            assert cursor.fetchall() == ((live_ids[0],),)


@contextmanager
def forwarded_to_mariadb(port: int) -> Iterator[None]:
    """From now on, connections to 127.0.0.1:`port` reach the MariaDB server."""

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            upstream = socket.create_connection((mariadb.HOST, mariadb.PORT))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()

    with socket.create_server(("127.0.0.1", port)) as listener:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        yield


def test_waits_for_a_database_that_answers_late():
    # A Job's pod may start before the database answers it: a server still starting, or a
    # NetworkPolicy agent that lets the pod's new address in a moment later.
    with migrated_database() as (name, env, user_id):
        with mariadb.connect(name) as conn, conn.cursor() as cursor:
            insert_sessions(cursor, user_id, 3, datetime.now(UTC) - timedelta(minutes=1))
        port = free_port()
        env = {**env, "DB_HOST": "127.0.0.1", "DB_PORT": str(port), "DB_WAIT_SECONDS": "60"}
        job = subprocess.Popen(
            [sys.executable, "-m", "cronjobs.token_cleanup"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            first = json.loads(job.stdout.readline())  # refused: nothing listens yet
            assert first["message"] == "waiting for the database", first
            with forwarded_to_mariadb(port):
                out, err = job.communicate(timeout=120)
        finally:
            job.kill()
        assert job.returncode == 0, out + err
        (summary,) = [
            line for line in json_lines(out) if line["message"] == "token cleanup finished"
        ]
        assert summary["deleted_sessions"] == 3


def test_a_failing_database_exits_non_zero_with_a_json_error():
    # Nothing listens on this port: the connection is refused, after the bounded wait.
    env = api_env(
        **{**mariadb.settings_env("fe_test_none"), "DB_PORT": str(free_port())},
        DB_WAIT_SECONDS="2",
    )
    result = cleanup(env)
    assert result.returncode != 0
    lines = json_lines(result.stdout)
    assert lines, result.stderr
    assert lines[0]["message"] == "waiting for the database"
    assert lines[-1]["level"] == "ERROR"
    assert lines[-1]["message"] == "cleanup-tokens failed"
    assert "OperationalError" in lines[-1]["error"]


def test_expired_rotated_digests_of_live_sessions_go_in_batches():
    # A live session that refreshed often keeps one digest per earlier refresh token; those
    # past their expiry go, never more of them in one transaction than the batch size.
    settings = {"TOKEN_CLEANUP_BATCH_SIZE": "100", "TOKEN_CLEANUP_PAUSE_RATIO": "0"}
    with migrated_database(**settings) as (name, env, user_id):
        now = datetime.now(UTC).replace(tzinfo=None)
        with mariadb.connect(name) as conn, conn.cursor() as cursor:
            insert_sessions(cursor, user_id, 1, now + timedelta(days=30))
            cursor.execute("SELECT id FROM tokens")
            (live_id,) = cursor.fetchone()
            digests = [
                (secrets.token_hex(32), live_id, now + timedelta(minutes=delta))
                for delta in [-1] * 250 + [60] * 3
            ]
            cursor.executemany(
                "INSERT INTO rotated_refresh_tokens (refresh_token_hash, token_id, expires_at)"
                " VALUES (%s, %s, %s)",
                digests,
            )

        result = cleanup(env)

        assert result.returncode == 0, result.stdout + result.stderr
        summary = next(
            line
            for line in json_lines(result.stdout)
            if line["message"] == "token cleanup finished"
        )
        assert summary["deleted_sessions"] == 0
        assert summary["deleted_rotated_tokens"] == 250
        assert (summary["batches"], summary["largest_batch"]) == (3, 100)
        with mariadb.connect(name) as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM rotated_refresh_tokens WHERE token_id = %s", (live_id,)
            )
            assert cursor.fetchone() == (3,)
