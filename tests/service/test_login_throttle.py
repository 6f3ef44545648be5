"""Login throttling (docs/api.md): per (username, client address), per username and per
address; atomic under concurrency; not turned against a user from one address; its counters
pruned by the cleanup job. Against the served API (uvicorn applies X-Forwarded-For from
127.0.0.1, the default FORWARDED_ALLOW_IPS), on SQLite and MariaDB."""

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from fastapi_example.data import login_throttle
from fastapi_example.db import make_engine
from fastapi_example.jobs.token_cleanup import delete_expired_sessions
from fastapi_example.models import username_key, utcnow
from fastapi_example.settings import Settings
from tests.support import mariadb
from tests.support.api_process import ADMIN, all_at_once, bearer, login, served

pytestmark = pytest.mark.slow
PAIR, PER_USERNAME, PER_ADDRESS = 3, 8, 8  # small limits keep the test short


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def api(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"throttle-{request.param}")
    limits = dict(
        LOGIN_MAX_FAILURES=str(PAIR),
        LOGIN_MAX_FAILURES_PER_USERNAME=str(PER_USERNAME),
        LOGIN_MAX_FAILURES_PER_ADDRESS=str(PER_ADDRESS),
    )
    if request.param == "sqlite":
        with served(tmp, **limits) as api:
            api.settings = Settings(database_url=f"sqlite:///{tmp}/api.db")
            yield api
        return
    with mariadb.fresh_database() as name, served(tmp, name, **limits) as api:
        api.settings = Settings(**{k.lower(): v for k, v in mariadb.settings_env(name).items()})
        yield api


_next_address = iter(range(1, 60000))


def address() -> str:
    """A client address no other test uses."""
    n = next(_next_address)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def user(api) -> tuple[str, str]:
    username, password = f"t{uuid.uuid4().hex[:12]}", f"pw-{uuid.uuid4().hex}"
    with api.client() as client:
        admin = bearer(login(client, *ADMIN))
        body = {"username": username, "password": password}
        assert client.post("/users", json=body, headers=admin).status_code == 201
    return username, password


def attempt(api, username: str, password: str, source: str) -> int:
    with api.client() as client:
        response = client.post(
            "/auth/token",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": source},
        )
    if response.status_code == 429:
        assert 1 <= int(response.headers["Retry-After"]) <= 300
    return response.status_code


def test_one_address_is_throttled_for_one_username_and_the_owner_is_not(api):
    username, password = user(api)
    attacker, owner = address(), address()
    assert [attempt(api, username, "wrong-pass", attacker) for _ in range(PAIR)] == [401] * PAIR
    assert attempt(api, username, password, attacker) == 429  # even the right password
    assert attempt(api, username, password, owner) == 200  # elsewhere the owner logs in


def test_a_right_password_starts_the_pair_over(api):
    username, password = user(api)
    source = address()
    for _ in range(PAIR - 1):
        assert attempt(api, username, "wrong-pass", source) == 401
    assert attempt(api, username, password, source) == 200
    assert [attempt(api, username, "wrong-pass", source) for _ in range(PAIR)] == [401] * PAIR


def test_one_address_trying_many_usernames_is_throttled(api):
    spray, bystander = address(), address()
    statuses = [attempt(api, f"nobody{uuid.uuid4().hex[:8]}", "x", spray) for _ in range(12)]
    assert statuses == [401] * PER_ADDRESS + [429] * (12 - PER_ADDRESS)
    username, password = user(api)
    assert attempt(api, username, password, spray) == 429
    assert attempt(api, username, password, bystander) == 200


def test_a_username_is_throttled_only_by_failures_from_several_addresses(api):
    """The per-username limit caps guessing one account from many addresses: the
    documented trade-off is that only a spread attack can lock its owner out."""
    username, password = user(api)
    sources = [address() for _ in range(PER_USERNAME // PAIR + 1)]
    statuses = [attempt(api, username, "wrong", s) for s in sources for _ in range(PAIR)]
    assert statuses.count(401) == PER_USERNAME
    assert attempt(api, username, password, address()) == 429


def test_parallel_attempts_never_pass_the_limit(api):
    username, _ = user(api)
    source = address()
    statuses = all_at_once(20, lambda _: attempt(api, username, "wrong-pass", source))
    expected = [401] * PAIR + [429] * (20 - PAIR)
    assert sorted(statuses) == expected, (Counter(statuses), trouble_logged(api))


def trouble_logged(api) -> list[dict]:
    """What the server logged above its routine lines: why an answer was not 401 or 429."""
    return [
        e for e in api.log_entries() if e["message"] in ("database unavailable", "unhandled error")
    ]


def test_retry_after_never_exceeds_the_window(api):
    """An attempt reads the clock, then waits for its counters' rows: a concurrent attempt
    may begin a counter's window meanwhile, after that reading. The answer still says at
    most one window."""
    username, _ = user(api)
    source = address()
    assert [attempt(api, username, "wrong-pass", source) for _ in range(PAIR)] == [401] * PAIR
    pair = login_throttle.Attempt.of(username_key(username), source).pair
    engine = make_engine(api.settings)
    try:
        with Session(engine) as db:  # the window began after the next attempt's reading
            db.exec(
                text("UPDATE login_throttle SET window_started = :later WHERE bucket = :pair"),
                params={"later": utcnow() + timedelta(seconds=5), "pair": pair},
            )
            db.commit()
    finally:
        engine.dispose()
    with api.client() as client:
        response = client.post(
            "/auth/token",
            json={"username": username, "password": "wrong-pass"},
            headers={"X-Forwarded-For": source},
        )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(Settings().login_window_seconds)


def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(tmp_path):
    """With the proxy not trusted, X-Forwarded-For names no address: every attempt counts
    against the peer itself."""
    with served(tmp_path, FORWARDED_ALLOW_IPS="192.0.2.1", LOGIN_MAX_FAILURES="2") as api:
        username, password = user(api)
        assert attempt(api, username, "wrong", address()) == 401
        assert attempt(api, username, "wrong", address()) == 401
        assert attempt(api, username, password, address()) == 429


def test_the_default_trusts_no_forwarded_address_but_localhost():
    assert Settings().forwarded_allow_ips == "127.0.0.1"


def counters(settings: Settings, started_before) -> int:
    engine = make_engine(settings)
    try:
        with Session(engine) as db:
            return db.exec(
                text("SELECT COUNT(*) FROM login_throttle WHERE window_started < :before"),
                params={"before": started_before},
            ).one()[0]
    finally:
        engine.dispose()


def test_the_cleanup_job_prunes_counters_whose_window_passed(api):
    source = address()
    for _ in range(5):
        attempt(api, f"gone{uuid.uuid4().hex[:8]}", "x", source)
    engine = make_engine(api.settings)
    long_ago = utcnow() - timedelta(seconds=301)
    try:
        with Session(engine) as db:  # every counter so far: its window passed
            db.exec(
                text("UPDATE login_throttle SET window_started = :old"), params={"old": long_ago}
            )
            db.commit()
        username, _ = user(api)
        assert attempt(api, username, "wrong", address()) == 401  # three fresh counters
        summary = delete_expired_sessions(engine, 25, 0, login_window_seconds=300)
    finally:
        engine.dispose()
    assert summary["deleted_login_counters"] >= 5 + 1  # the names, the address
    assert counters(api.settings, utcnow() - timedelta(seconds=300)) == 0
    assert counters(api.settings, utcnow() + timedelta(seconds=1)) >= 3


def test_the_cleanup_job_keeps_a_counter_restarted_after_it_read_its_key(api):
    """Between the job's read of the keys and its delete, a failed login restarts a counter
    whose window had passed: the counter keeps that failure (it was once deleted)."""
    engine = make_engine(api.settings)
    long_ago = utcnow() - timedelta(seconds=301)
    bucket = f"0000-restarted-{uuid.uuid4().hex}"  # in the job's first batch
    restarted = False

    def restart_before_the_delete(conn, _cursor, statement, *_):
        nonlocal restarted
        if statement.lstrip().upper().startswith("DELETE FROM LOGIN_THROTTLE") and not restarted:
            restarted = True  # as a concurrent failure would, committed before the delete
            conn.exec_driver_sql(
                "UPDATE login_throttle SET failures = 1, window_started = ? WHERE bucket = ?"
                if conn.dialect.name == "sqlite"
                else "UPDATE login_throttle SET failures = 1, window_started = %s"
                " WHERE bucket = %s",
                (utcnow().replace(tzinfo=None), bucket),
            )

    try:
        with Session(engine) as db:
            db.exec(
                text(
                    "INSERT INTO login_throttle (bucket, failures, window_started)"
                    " VALUES (:b, 5, :old)"
                ),
                params={"b": bucket, "old": long_ago},
            )
            db.commit()
        event.listen(engine, "before_cursor_execute", restart_before_the_delete)
        delete_expired_sessions(engine, 25, 0, login_window_seconds=300)
        with Session(engine) as db:
            kept = db.exec(
                text("SELECT failures FROM login_throttle WHERE bucket = :b"), params={"b": bucket}
            ).all()
    finally:
        engine.dispose()
    assert restarted
    assert kept == [(1,)]
