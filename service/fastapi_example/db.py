"""The engine and the per-request session."""

from collections.abc import AsyncIterator
from typing import Annotated
from weakref import WeakKeyDictionary

import anyio
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fastapi_example.settings import Settings

POOL_TIMEOUT_SECONDS = 5


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        _serialize_sqlite_writes(engine)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=1800,  # below MySQL's default wait_timeout (8 h) and most proxies' idle cut
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "read_timeout": 30,
            "write_timeout": 30,
        },
    )


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


# One gate per event loop and app (tests run many apps, and TestClient many loops).
_gates: RunVar[WeakKeyDictionary] = RunVar("fastapi_example_db_gates")


def _gate(request: Request) -> anyio.Semaphore:
    try:
        gates = _gates.get()
    except LookupError:
        gates = WeakKeyDictionary()
        _gates.set(gates)
    gate = gates.get(request.app)
    if gate is None:
        gate = gates[request.app] = anyio.Semaphore(request.app.state.settings.db_pool_size)
    return gate


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request, holding one pooled connection from its first query to the end.

    At most DB_POOL_SIZE requests hold a session at once; the others wait here, on the event
    loop. Without this gate, more requests in flight than the pool size made the pool open
    and drop an overflow connection per request (connect, log in, SSL context each time).
    """
    gate = _gate(request)
    try:
        with anyio.fail_after(POOL_TIMEOUT_SECONDS):
            await gate.acquire()
    except TimeoutError:
        raise PoolTimeoutError("no database connection free in time") from None
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        with anyio.CancelScope(shield=True):
            try:
                if session.in_transaction():  # closing rolls back: a round trip, off the loop
                    await run_in_threadpool(session.close)
                else:
                    session.close()
            finally:
                gate.release()


SessionDep = Annotated[Session, Depends(get_session)]
