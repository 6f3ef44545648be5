"""Engines and sessions: a synchronous engine for the CLI, two async pools for requests.

Requests send their SQL from the event loop through SQLAlchemy's asyncio extension (asyncmy
for MySQL, aiosqlite for SQLite): a query costs no thread hop. Two pools serve them:

- `writer`: transactions at READ COMMITTED, for requests that change data;
- `reader`: autocommit, for token lookups and reads. Each statement sees the latest commit,
  as it would inside a READ COMMITTED transaction, and there is no transaction to end, so a
  read costs one round trip instead of two (the query, then a ROLLBACK).

Every request read is a Core statement built once (driver.Prepared), run by Database.rows:
on MySQL through asyncmy's own pool, connected with the reader engine's arguments and
without SQLAlchemy's execution (driver.py); on SQLite through the reader engine.

The hot writes (items, token refresh, logout) are Core statements too, in a
Database.transaction on a writer connection: on MySQL sent by asyncmy itself, on SQLite
through SQLAlchemy. Through an ORM session such a request executed about twice the
instructions (benchmarks/HISTORY.md); the rarer writes (users, login) keep the ORM session.

`make_engine` (pymysql or sqlite3) serves `migrate`, the token-cleanup job and the tests.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar
from weakref import WeakKeyDictionary

import anyio
from fastapi import Depends, Request
from sqlalchemy import (
    Engine,
    RowMapping,
    Select,
    create_engine,
    event,
    literal_column,
    make_url,
    select,
)
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from fastapi_example.driver import DriverPool, DriverTransaction, Prepared
from fastapi_example.gate import Gate
from fastapi_example.settings import Settings

T = TypeVar("T")
POOL_TIMEOUT_SECONDS = 5
POOL_RECYCLE_SECONDS = 1800  # below MySQL's default wait_timeout (8 h) and most proxies' idle cut
PING_AFTER_IDLE_SECONDS = 1.0
SQLITE_BUSY_SECONDS = 10
ASYNC_DRIVERS = {"mysql": "mysql+asyncmy", "sqlite": "sqlite+aiosqlite"}


def _is_sqlite(settings: Settings) -> bool:
    return make_url(settings.sqlalchemy_url).get_backend_name() == "sqlite"


def _mysql_pool(settings: Settings) -> dict:
    return dict(
        pool_recycle=POOL_RECYCLE_SECONDS,
        # Sessions and connections always end their transaction (rollback or commit) before
        # they return a connection; the pool's own reset would be a second ROLLBACK round trip.
        pool_reset_on_return=None,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=POOL_TIMEOUT_SECONDS,
    )


def make_engine(settings: Settings) -> Engine:
    """The synchronous engine: migrate, the cleanup job, tests."""
    url = settings.sqlalchemy_url
    if _is_sqlite(settings):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        )
        _sqlite_pragmas(engine)
        _sqlite_begin_immediate(engine)
        return engine
    engine = create_engine(
        url,
        # No gap locks and no stale snapshots: what a web request's short transactions want.
        isolation_level="READ COMMITTED",
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "read_timeout": 30,
            "write_timeout": 30,
        },
        **_mysql_pool(settings),
    )
    _ping_idle_connections(engine)
    return engine


def make_async_engine(settings: Settings, *, autocommit: bool) -> AsyncEngine:
    """A request pool: transactions (writer) or autocommit statements (reader)."""
    url = make_url(settings.sqlalchemy_url)
    url = url.set(drivername=ASYNC_DRIVERS[url.get_backend_name()])
    isolation = "AUTOCOMMIT" if autocommit else "READ COMMITTED"
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS},
            **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
        )
        _sqlite_pragmas(engine.sync_engine)
        if not autocommit:
            _sqlite_begin_immediate(engine.sync_engine)
        return engine
    engine = create_async_engine(
        url,
        isolation_level=isolation,
        # Autocommit has no transaction: the ROLLBACK a connection gets on release is a no-op.
        skip_autocommit_rollback=autocommit,
        connect_args={"connect_timeout": settings.db_connect_timeout},
        **_mysql_pool(settings),
    )
    _ping_idle_connections(engine.sync_engine)
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


class Database:
    """The app's two request pools, and a gate per pool on each event loop.

    At most DB_POOL_SIZE sessions of a pool are open at once; the others wait on the gate.
    Without it, more requests in flight than the pool size made the pool open and drop an
    overflow connection per request (connect, log in, SSL context each time). Probes and the
    catalog refresh skip the gates: the overflow is theirs.
    """

    def __init__(self, settings: Settings) -> None:
        self.writer = make_async_engine(settings, autocommit=False)
        self.reader = make_async_engine(settings, autocommit=True)
        self._size = settings.db_pool_size
        self.driver = None
        if self.reader.dialect.driver == "asyncmy":  # MySQL's reads: the reader engine's place
            self.driver = DriverPool(
                self.reader,
                self._size + settings.db_max_overflow,
                POOL_RECYCLE_SECONDS,
                settings.db_connect_timeout,
            )
        # Per loop: tests run many apps, and each TestClient its own loop.
        self._gates: WeakKeyDictionary = WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_gates: dict[AsyncEngine, Gate] = {}

    async def start(self) -> None:
        """On the server's event loop, before the first request (the app's lifespan)."""
        if self.driver is not None:
            await self.driver.open()

    async def dispose(self) -> None:
        if self.driver is not None:
            await self.driver.close()
        await self.writer.dispose()
        await self.reader.dispose()

    def _gate(self, engine: AsyncEngine) -> Gate:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a server has one loop: looked up once, then kept
            gates = self._gates.get(loop)
            if gates is None:
                pools = (self.writer, self.reader)
                gates = self._gates[loop] = {
                    pool: Gate(self._size, POOL_TIMEOUT_SECONDS) for pool in pools
                }
            self._loop, self._loop_gates = loop, gates
        return self._loop_gates[engine]

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session of the writer, closed (rolled back if need be) at the end."""
        gate = self._gate(self.writer)
        await gate.enter()
        try:
            session = AsyncSession(self.writer, expire_on_commit=False)
            try:
                yield session
            finally:
                if session.in_transaction():  # a ROLLBACK round trip: finish it even if cancelled
                    with anyio.CancelScope(shield=True):
                        await session.close()
                else:
                    await session.close()
        finally:
            gate.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Transaction"]:
        """Core statements in one writer transaction; what is not committed is rolled back."""
        gate = self._gate(self.writer)
        await gate.enter()
        try:
            async with self._writer_transaction() as transaction:
                try:
                    yield transaction
                finally:
                    await transaction.close()
        finally:
            gate.release()

    @asynccontextmanager
    async def _writer_transaction(self) -> AsyncIterator["Transaction"]:
        if self.driver is None:
            async with self.writer.connect() as connection:
                yield CoreTransaction(connection)
            return
        # Straight from the pool: a SQLAlchemy Connection around it cost about half as much
        # again as the statements and the commit, and asyncmy sends those itself.
        pooled = await greenlet_spawn(self.writer.sync_engine.raw_connection)
        transaction = DriverTransaction(pooled.driver_connection, self.writer.dialect)
        try:
            yield transaction
        finally:
            if transaction.broken:  # lost or cancelled mid-statement: never reused
                await greenlet_spawn(pooled.invalidate)
            pooled.close()  # back to the pool; no reset on return (pool_reset_on_return=None)

    async def rows(
        self, prepared: Prepared, params: Mapping[str, Any], *, gated: bool = True
    ) -> list[Mapping[str, Any]]:
        """The rows of a statement built once, as mappings: every read of a request.

        MySQL: through asyncmy's pool (a quarter of SQLAlchemy's CPU per read, driver.py).
        SQLite: through the reader engine, checkout, query and release in one greenlet (an
        AsyncConnection would enter one for each). Probes and the catalog pass gated=False.
        """
        if not gated:
            return await self._rows(prepared, params)
        gate = self._gate(self.reader)
        await gate.enter()
        try:
            return await self._rows(prepared, params)
        finally:
            gate.release()

    async def _rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Mapping]:
        if self.driver is not None:
            return await self.driver.rows(prepared, params)
        return await greenlet_spawn(self._core_rows, prepared.statement, params)

    def _core_rows(self, statement: Select, params: Mapping[str, Any]) -> list[RowMapping]:
        with self.reader.sync_engine.connect() as connection:
            return connection.execute(statement, params).mappings().all()

    async def ping(self) -> None:
        """One round trip on the reader, outside the gate: the readiness probe."""
        await self.rows(_PING, {}, gated=False)


class CoreTransaction:
    """SQLite: a transaction's statements through the writer engine (BEGIN IMMEDIATE at the
    first one). SQLAlchemy drops a connection it lost by itself: it is never `broken`."""

    broken = False

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[RowMapping]:
        return (await self._connection.execute(prepared.statement, params)).mappings().all()

    async def execute(self, prepared: Prepared, params: Mapping[str, Any]) -> int:
        return (await self._connection.execute(prepared.statement, params)).rowcount

    async def insert(self, prepared: Prepared, params: Mapping[str, Any]) -> int:
        return (await self._connection.execute(prepared.statement, params)).lastrowid

    async def commit(self) -> None:
        await self._connection.commit()

    async def rollback(self) -> None:
        await self._connection.rollback()

    async def close(self) -> None:
        """Roll back an unfinished transaction, even when cancelled."""
        if self._connection.in_transaction():
            with anyio.CancelScope(shield=True):
                await self._connection.rollback()


Transaction = DriverTransaction | CoreTransaction
_PING = Prepared(select(literal_column("1").label("one")))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The writer session of a request that changes data, closed when the endpoint returns."""
    async with request.app.state.db.write_session() as session:
        yield session


# The ORM routes (login, user writes, docs) are rare: a dependency's cost does not show there.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def database(request: Request) -> Database:
    """The app's Database, for the routes that take their Request instead of a dependency.

    FastAPI 0.165 spends about 70k instructions solving one dependency per request, and about
    180k on a generator dependency and its exit stack: more than the SQL of a read. So the
    Core routes read with `database(request).rows(...)` and write in
    `async with database(request).transaction() as db:` (benchmarks/HISTORY.md, tenth round).
    """
    return request.app.state.db


MYSQL_DEADLOCK = 1213


async def retry_on_deadlock(
    db: AsyncSession | Transaction, work: Callable[..., Awaitable[T]], *args, attempts: int = 3
) -> T:
    """await work(db, *args); again, after a rollback, when MySQL made it a deadlock victim.

    Concurrent refreshes of one token, or logins of neighbouring users, can deadlock inside
    InnoDB; the transaction did nothing yet, so running it again is safe.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await work(db, *args)
        except OperationalError as error:
            code = error.orig.args[0] if error.orig is not None and error.orig.args else None
            if code != MYSQL_DEADLOCK or attempt == attempts:
                raise
            await db.rollback()
    raise AssertionError("unreachable")
