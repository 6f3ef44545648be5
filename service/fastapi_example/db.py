"""The database: plain SQL on the async driver for requests, SQLAlchemy for the command line.

Requests run their SQL through `Database`: one statement at a time on a pooled connection
in autocommit mode (`fetch_one`, `fetch_all`, `execute`), or several in one READ COMMITTED
transaction (`async with db.transaction() as tx`). Autocommit reads cost one round trip
each: no transaction to end. The pool is SQLAlchemy's (its size, wait timeout and
recycling; connections idle for a while are pinged before use). The SQL is plain text run
by the driver itself, asyncmy for MySQL and aiosqlite for SQLite; dialects.py holds what
differs between the two. Why not SQLAlchemy's execution: docs/decisions/0001-plain-sql.md.

`make_engine` (pymysql or sqlite3) serves `migrate`, the token-cleanup job and the tests,
which use SQLModel's ORM.
"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from fastapi_example.dialects import (
    DatabaseUnavailable,
    Deadlock,
    MySQL,
    Result,
    Row,
    SQLite,
    UniqueViolation,
)
from fastapi_example.settings import Settings

T = TypeVar("T")
POOL_TIMEOUT_SECONDS = 5
POOL_RECYCLE_SECONDS = 1800  # below MySQL's default wait_timeout (8 h) and most proxies' idle cut
PING_AFTER_IDLE_SECONDS = 1.0
SQLITE_BUSY_SECONDS = 10
ASYNC_DRIVERS = {"mysql": "mysql+asyncmy", "sqlite": "sqlite+aiosqlite"}
READ_COMMITTED = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"

__all__ = ["Database", "DatabaseUnavailable", "Deadlock", "Row", "UniqueViolation"]


def is_sqlite(settings: Settings) -> bool:
    return make_url(settings.sqlalchemy_url).get_backend_name() == "sqlite"


def make_engine(settings: Settings) -> Engine:
    """The synchronous engine: migrate, the cleanup job, tests."""
    url = settings.sqlalchemy_url
    if is_sqlite(settings):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        )
        _sqlite_pragmas(engine)
        _sqlite_begin_immediate(engine)
        return engine
    engine = create_engine(
        url,
        # No gap locks and no stale snapshots: what short transactions want.
        isolation_level="READ COMMITTED",
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "read_timeout": 30,
            "write_timeout": 30,
        },
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_size=settings.db_pool_size,
        pool_timeout=POOL_TIMEOUT_SECONDS,
    )
    _ping_idle_connections(engine)
    return engine


def make_pool(settings: Settings) -> AsyncEngine:
    """The requests' pool, of DB_POOL_SIZE connections in autocommit mode.

    No overflow: under load, requests wait for a connection (at most POOL_TIMEOUT_SECONDS,
    then 503) instead of opening and closing one each. Transactions are begun and ended by
    Database.transaction, so the pool has nothing to reset when a connection comes back.
    """
    url = make_url(settings.sqlalchemy_url)
    url = url.set(drivername=ASYNC_DRIVERS[url.get_backend_name()])
    pool = dict(
        isolation_level="AUTOCOMMIT",
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_reset_on_return=None,
    )
    if url.get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_SECONDS, "detect_types": SQLite.detect_types}
        engine = create_async_engine(url, connect_args=connect_args, **pool)
        _sqlite_pragmas(engine.sync_engine)
        return engine
    engine = create_async_engine(
        url,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "init_command": READ_COMMITTED,
        },
        pool_recycle=POOL_RECYCLE_SECONDS,
        **pool,
    )
    _ping_idle_connections(engine.sync_engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """pool_pre_ping, but only for connections idle longer than PING_AFTER_IDLE_SECONDS.

    A connection handed back a moment ago is alive; pinging it would cost a round trip per
    request. One that sat idle may have been cut (server restart, wait_timeout, a proxy): it
    is pinged, and a dead one is replaced before the request sees it.
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


def _sqlite_pragmas(engine: Engine) -> None:
    """SQLite: WAL (readers never block the writer), foreign keys, a wait when busy."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()


def _sqlite_begin_immediate(engine: Engine) -> None:
    """SQLite transactions take the write lock at BEGIN, so read-then-write never races."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Connection:
    """A pooled connection: its statements, on their own or in Database.transaction's."""

    def __init__(self, driver_connection, dialect: MySQL | SQLite) -> None:
        self._driver, self._dialect = driver_connection, dialect
        self.broken = False  # lost or interrupted mid-statement: never reused

    async def run(self, sql: str, *params: Any) -> Result:
        try:
            return await self._dialect.run(self._driver, sql, params)
        except BaseException as error:
            translated = self._dialect.translate(error)
            # A refused write or a deadlock leaves the connection usable; anything else
            # (a lost server, a cancelled request mid-answer) may not.
            self.broken = not isinstance(translated, UniqueViolation | Deadlock)
            if translated is None:
                raise
            raise translated from error

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        rows = (await self.run(sql, *params)).rows
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        return (await self.run(sql, *params)).rows

    async def execute(self, sql: str, *params: Any) -> int:
        """An UPDATE or DELETE: the number of rows it matched."""
        return (await self.run(sql, *params)).rowcount

    async def insert(self, sql: str, *params: Any) -> int:
        """An INSERT: the new row's id."""
        return (await self.run(sql, *params)).lastrowid


class Database:
    """The requests' pool and the ways to run SQL on it; `app.state.db`."""

    def __init__(self, settings: Settings) -> None:
        self.dialect = SQLite() if is_sqlite(settings) else MySQL()
        self.pool = make_pool(settings)

    async def dispose(self) -> None:
        await self.pool.dispose()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of the pool for the block, then back to it (or closed if broken)."""
        try:
            pooled = await self.pool.raw_connection()
        except (PoolTimeoutError, DBAPIError) as error:  # none free in time, or none made
            raise DatabaseUnavailable(str(error)) from error
        except Exception as error:  # the driver's own, when it could not connect
            translated = self.dialect.translate(error)
            if translated is None:
                raise
            raise translated from error
        connection = Connection(pooled.driver_connection, self.dialect)
        try:
            yield connection
        finally:
            if connection.broken:
                pooled.invalidate()
            else:
                pooled.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """The block's statements in one transaction, committed when the block ends and
        rolled back if it raises (HTTPException included)."""
        async with self.connection() as connection:
            await connection.run(self.dialect.begin)
            try:
                yield connection
            except BaseException:
                if not connection.broken:
                    with anyio.CancelScope(shield=True):  # even when the request is cancelled
                        await connection.run("ROLLBACK")
                raise
            if connection.broken:  # a statement failed, and the block went on regardless
                raise DatabaseUnavailable("the transaction's connection was lost")
            await connection.run("COMMIT")

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        async with self.connection() as connection:
            return await connection.fetch_one(sql, *params)

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        async with self.connection() as connection:
            return await connection.fetch_all(sql, *params)

    async def execute(self, sql: str, *params: Any) -> int:
        async with self.connection() as connection:
            return await connection.execute(sql, *params)

    async def insert(self, sql: str, *params: Any) -> int:
        async with self.connection() as connection:
            return await connection.insert(sql, *params)

    async def ping(self) -> None:
        """One round trip: the readiness probe."""
        await self.fetch_one("SELECT 1 AS one")


async def retry_on_deadlock(work: Callable[..., Awaitable[T]], *args, attempts: int = 3) -> T:
    """await work(*args), again when its transaction was a deadlock victim.

    Concurrent refreshes of one token, or logins of neighbouring users, can deadlock inside
    InnoDB; the victim's transaction was rolled back and did nothing, so it can run again.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await work(*args)
        except Deadlock:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def get_database(request: Request) -> Database:
    return request.app.state.db


DatabaseDep = Annotated[Database, Depends(get_database)]
