"""The database: plain SQL on the async driver for requests, SQLAlchemy for the command line.

Requests run their SQL through `Database`: one statement at a time on a pooled connection
in autocommit mode (`fetch_one`, `fetch_all`, `execute`, `insert`), or several in one READ
COMMITTED transaction (`async with db.transaction() as tx`). Autocommit reads cost one round
trip each: no transaction to end. At most DB_POOL_SIZE connections; a request that finds
none free waits for one, in arrival order, at most POOL_TIMEOUT_SECONDS (then 503). The SQL
is plain text run by the driver itself, asyncmy for MySQL and aiosqlite for SQLite;
dialects.py holds what differs between the two, their pools included. Why not
SQLAlchemy's execution: docs/decisions/0001-plain-sql-on-the-driver.md.

`make_engine` (pymysql or sqlite3, SQLModel's ORM) serves `migrate`, the token-cleanup job
and the tests.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event, make_url

from fastapi_example.dialects import (
    DatabaseUnavailable,
    Deadlock,
    MySQL,
    Result,
    Row,
    SQLite,
    UniqueViolation,
    sqlite_pragmas,
)
from fastapi_example.settings import Settings

T = TypeVar("T")
POOL_TIMEOUT_SECONDS = 5
POOL_RECYCLE_SECONDS = 1800  # below MySQL's default wait_timeout (8 h) and most proxies' idle cut
SQLITE_BUSY_SECONDS = 10

__all__ = ["Database", "DatabaseUnavailable", "Deadlock", "Row", "UniqueViolation"]


def is_sqlite(settings: Settings) -> bool:
    return make_url(settings.sqlalchemy_url).get_backend_name() == "sqlite"


def make_engine(settings: Settings, read_timeout: float | None = None) -> Engine:
    """The synchronous engine: migrate, the cleanup job, tests. On MySQL, `read_timeout`
    bounds each wait for the server's answer (by default DB_STATEMENT_TIMEOUT, at least 30 s)."""
    url = settings.sqlalchemy_url
    if is_sqlite(settings):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        )
        sqlite_pragmas(engine, SQLITE_BUSY_SECONDS)
        _sqlite_begin_immediate(engine)
        return engine
    engine = create_engine(
        url,
        # No gap locks and no stale snapshots: what short transactions want.
        isolation_level="READ COMMITTED",
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "read_timeout": read_timeout or max(settings.db_statement_timeout, 30),
            "write_timeout": max(settings.db_statement_timeout, 30),
        },
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,  # a connection the server closed is replaced, not handed out
    )
    return engine


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
        self.driver, self._dialect = driver_connection, dialect
        self.broken = False  # lost or interrupted mid-statement: never reused

    async def run(self, sql: str, *params: Any) -> Result:
        try:
            return await self._dialect.run(self.driver, sql, params)
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
        url = make_url(settings.sqlalchemy_url)
        size = self.size = settings.db_pool_size
        self.turns: asyncio.Semaphore | None = None
        if url.get_backend_name() == "sqlite":
            self.dialect: MySQL | SQLite = SQLite(url, size, POOL_TIMEOUT_SECONDS)
        else:
            self.dialect = MySQL(
                url,
                size,
                POOL_RECYCLE_SECONDS,
                settings.db_connect_timeout,
                settings.db_statement_timeout,
            )

    async def start(self) -> None:
        """On the server's event loop, before the first request (the app's lifespan)."""
        await self.dialect.open()
        # Both drivers' pools hand a connection that comes back to whichever request asks
        # next, ahead of those already waiting: under load, some waited many turns. Requests
        # take turns in arrival order here instead (asyncio's semaphore is first come, first
        # served), as many at once as the pool has connections.
        self.turns = asyncio.Semaphore(self.size)

    async def dispose(self) -> None:
        await self.dialect.close()

    async def _acquire(self):
        turns = self.turns
        if turns is None:
            raise RuntimeError("the database pool is not open: await Database.start() first")
        held = False
        try:
            # One deadline for the turn and the connection. Even with free connections the
            # pool may open a new one (those it had were closed by the server), and the
            # driver's connect_timeout covers opening the socket only: a server that took
            # the connection and never greets would hold the handshake forever.
            async with asyncio.timeout(POOL_TIMEOUT_SECONDS):
                await turns.acquire()
                held = True
                return await self.dialect.acquire()
        except BaseException as error:
            if held:
                turns.release()
            if isinstance(error, TimeoutError):
                raise DatabaseUnavailable("no database connection in time") from None
            translated = self.dialect.translate(error)  # the driver's, if it could not connect
            if translated is None:
                raise
            raise translated from error

    def _release(self, connection: Connection) -> None:
        try:
            self.dialect.release(connection.driver, connection.broken)
        finally:
            self.turns.release()  # the next request's turn, whatever became of this one

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection of the pool for the block, then back to it (or closed if broken)."""
        connection = Connection(await self._acquire(), self.dialect)
        try:
            yield connection
        finally:
            self._release(connection)

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
        """The first row of a statement run on its own (autocommit), None if none."""
        rows = (await self._run_alone(sql, params)).rows
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        return (await self._run_alone(sql, params)).rows

    async def execute(self, sql: str, *params: Any) -> int:
        return (await self._run_alone(sql, params)).rowcount

    async def insert(self, sql: str, *params: Any) -> int:
        return (await self._run_alone(sql, params)).lastrowid

    async def _run_alone(self, sql: str, params: tuple) -> Result:
        # What `async with self.connection()` does, spelled out: every read of a request
        # comes through here, and the context manager's machinery would cost as much again.
        connection = Connection(await self._acquire(), self.dialect)
        try:
            return await connection.run(sql, *params)
        finally:
            self._release(connection)

    async def ping(self) -> None:
        """One round trip outside the pool, for the readiness probe."""
        await self.dialect.ping()


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
