"""The engine and the per-request session."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar
from weakref import WeakKeyDictionary

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fastapi_example.settings import Settings

T = TypeVar("T")
POOL_TIMEOUT_SECONDS = 5
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        _serialize_sqlite_writes(engine)
        return engine
    engine = create_engine(
        url,
        # No gap locks and no stale snapshots: what a web request's short transactions want.
        isolation_level="READ COMMITTED",
        pool_recycle=1800,  # below MySQL's default wait_timeout (8 h) and most proxies' idle cut
        # Sessions and connections always end their transaction (rollback or commit) before
        # they return a connection; the pool's own reset would be a second ROLLBACK round trip.
        pool_reset_on_return=None,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "read_timeout": 30,
            "write_timeout": 30,
        },
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """pool_pre_ping, but only for connections idle longer than PING_AFTER_IDLE_SECONDS.

    A connection handed back a moment ago is alive; pinging it cost a round trip per request.
    One that sat idle may have been cut (server restart, wait_timeout, a proxy): it is pinged,
    and a dead one is replaced before the request sees it. A server lost under load fails the
    requests in flight (503) and the pool is invalidated, so the next ones reconnect.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("idle connection lost") from error


def _serialize_sqlite_writes(engine: Engine) -> None:
    """SQLite: WAL, foreign keys, and BEGIN IMMEDIATE so read-then-write never races."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _gate(request: Request) -> asyncio.Semaphore:
    """The app's gate on this event loop (tests run many apps, and TestClient many loops)."""
    state = request.app.state
    gates = getattr(state, "db_gates", None)
    if gates is None:
        gates = state.db_gates = WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    gate = gates.get(loop)
    if gate is None:
        gate = gates[loop] = asyncio.Semaphore(state.settings.db_pool_size)
    return gate


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request, holding one pooled connection from its first query to the end.

    At most DB_POOL_SIZE requests hold a session at once; the others wait here, on the event
    loop. Without this gate, more requests in flight than the pool size made the pool open
    and drop an overflow connection per request (connect, log in, SSL context each time).
    Plain asyncio here: anyio's primitives cost a scheduling round per request even when free.
    """
    gate = _gate(request)
    if gate.locked():
        try:
            await asyncio.wait_for(gate.acquire(), POOL_TIMEOUT_SECONDS)
        except TimeoutError:
            raise PoolTimeoutError("no database connection free in time") from None
    else:
        await gate.acquire()  # free: returns at once
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        try:
            if session.in_transaction():  # closing rolls back: a round trip, off the loop
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(session.close)
            else:
                session.close()
        finally:
            gate.release()


async def in_thread(db: Session, work: Callable[..., T], *args) -> T:
    """work(*args) in the threadpool, then the session closed in that same thread.

    For read endpoints declared `async`: one thread hop where a plain `def` endpoint takes
    three (its body, FastAPI's validation of what it returns, and closing the session).
    The returned objects are detached with their columns loaded.
    """

    def run() -> T:
        try:
            return work(*args)
        finally:
            db.close()

    return await run_in_threadpool(run)


SessionDep = Annotated[Session, Depends(get_session)]
MYSQL_DEADLOCK = 1213


def retry_on_deadlock(db: Session, work: Callable[..., T], *args, attempts: int = 3) -> T:
    """work(db, *args), run again after a rollback when MySQL picked it as a deadlock victim.

    Concurrent refreshes of one token, or logins of neighbouring users, can deadlock inside
    InnoDB; the transaction did nothing yet, so running it again is safe.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work(db, *args)
        except OperationalError as error:
            code = error.orig.args[0] if error.orig is not None and error.orig.args else None
            if code != MYSQL_DEADLOCK or attempt == attempts:
                raise
            db.rollback()
    raise AssertionError("unreachable")
