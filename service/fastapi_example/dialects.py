"""What differs between MySQL (asyncmy) and SQLite (aiosqlite) when the API runs plain SQL.

The data modules write one SQL text for both databases, with `?` placeholders. Each class
here keeps its driver's pool of connections, turns the SQL into what its driver takes, runs
it and gives the rows back alike: dictionaries, datetimes aware in UTC (both databases store
them in UTC without an offset), booleans as 0 or 1. It also says which driver errors are a
refused write (a unique index), a lost or busy database, or a deadlock worth retrying.
"""

import asyncio
import math
import sqlite3
import weakref
from contextlib import closing
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import asyncmy
import asyncmy.errors
from asyncmy.constants import CLIENT, FIELD_TYPE
from sqlalchemy import URL, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import create_async_engine

Row = dict[str, Any]


class Result(NamedTuple):
    rows: list[Row]
    rowcount: int  # rows an UPDATE or DELETE matched
    lastrowid: int | None  # an INSERT's new id


class DatabaseUnavailable(Exception):
    """The database is lost, busy or out of connections: the request may be tried again.
    Its message names the cause without the driver's text, which may quote values."""


class Deadlock(DatabaseUnavailable):
    """The database chose this transaction as a deadlock victim; it did nothing yet."""


class UniqueViolation(Exception):
    """A unique index (or another constraint) refused the write."""


MYSQL_DEADLOCK = 1213
MYSQL_NOT_OPERATING = (
    asyncmy.errors.OperationalError,
    asyncmy.errors.InternalError,
    asyncmy.errors.InterfaceError,  # a connection already closed
)
# SQLite's OperationalError holds wrong statements too: its result codes tell the database
# that cannot operate (busy or locked past the busy timeout, read-only, out of memory or
# disk, an I/O error, a file it cannot open).
SQLITE_NOT_OPERATING = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


# Column types read back as datetimes; both databases store them in UTC without an offset.
MYSQL_DATETIME_TYPES = frozenset({FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP})
# Statements each connection keeps prepared on the server: more than the API has.
MYSQL_PREPARED_STATEMENTS = 64


class MySQL:
    """asyncmy's own pool of autocommit connections; transactions at READ COMMITTED.

    Statements with parameters run as server-side prepared statements, which asyncmy
    prepares on a connection's first use of the SQL text and keeps (its documented
    `stmt_cache_size`): values travel and rows come back in the binary protocol, with no
    escaping and no parsing of text. Statements without parameters (BEGIN, COMMIT) go as
    text.
    """

    name = "mysql"
    begin = "BEGIN"
    # An INSERT that updates the row its key already has (the assignments follow it).
    upsert = "ON DUPLICATE KEY UPDATE"

    def __init__(
        self,
        url: URL,
        size: int,
        recycle: int,
        connect_timeout: int,
        statement_timeout: float,
    ):
        self._connect = dict(
            host=url.host,
            port=url.port or 3306,
            user=url.username,
            password=url.password or "",
            db=url.database,
            charset=url.query.get("charset", "utf8mb4"),
            autocommit=True,  # a read is one round trip: no transaction to end
            # For the transactions the API begins: no gap locks, no stale snapshots.
            init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            connect_timeout=connect_timeout,
            client_flag=CLIENT.FOUND_ROWS,  # an UPDATE's row count: matched, changed or not
            stmt_cache_size=MYSQL_PREPARED_STATEMENTS,
        )
        self._size, self._recycle = size, recycle
        self._statement_timeout = statement_timeout
        # A statement waiting for a row lock gives up on the server before the API gives up
        # on it: a write the API answered 503 must not be done later by a query still queued
        # there (the server does not notice a closed connection while the query waits).
        # Set on a connection's first use: asyncmy runs one init_command, and MySQL and
        # MariaDB name the isolation variable differently, so one SET cannot carry both.
        lock_wait = max(1, math.floor(statement_timeout) - 1)
        self._session_setup = f"SET SESSION innodb_lock_wait_timeout = {lock_wait}"
        self._set_up: weakref.WeakSet = weakref.WeakSet()  # connections it was run on
        self._pool: asyncmy.Pool | None = None
        self._probe = None  # the readiness probe's connection, outside the pool
        self._probing: asyncio.Lock | None = None

    async def open(self) -> None:
        """The pool of the running event loop; connections open when first needed."""
        self._pool = await asyncmy.create_pool(
            minsize=0, maxsize=self._size, pool_recycle=self._recycle, **self._connect
        )
        self._probing = asyncio.Lock()

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    async def ping(self) -> None:
        """One round trip on a connection of its own, kept open between probes: whether the
        server answers, not whether a request's turn at the pool comes soon. Writes queued
        behind one hot row can hold every pooled connection, and taking every replica out
        of its Service for that would stop the reads too."""
        async with self._probing:
            try:
                if self._probe is None:
                    self._probe = await asyncmy.connect(**self._connect)
                async with self._probe.cursor() as cursor:
                    await cursor.execute("SELECT 1")
            except BaseException:  # cancelled by the probe's timeout included
                if self._probe is not None:
                    self._probe.close()  # mid-answer, it cannot be used again
                    self._probe = None
                raise

    async def acquire(self):
        """A connection of the pool: a free one, else a new one or the first to come back.
        The pool itself replaces connections the server closed (Database bounds the wait)."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("the database pool is not open: await Database.start() first")
        connection = await pool.acquire()
        if connection not in self._set_up:
            try:
                async with connection.cursor() as cursor:
                    await cursor.execute(self._session_setup)
            except BaseException:
                self.release(connection, broken=True)
                raise
            self._set_up.add(connection)
        return connection

    def release(self, connection, broken: bool) -> None:
        if broken:
            connection.close()  # the pool forgets a closed connection
        self._pool.release(connection)

    @staticmethod
    @lru_cache(maxsize=256)
    def statement(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    async def run(self, connection, sql: str, params: tuple) -> Result:
        # A server that stops answering without closing the connection (a frozen host, a
        # network black hole) would hold the request forever: the statement is abandoned
        # instead (the driver closes the connection when cancelled mid-read).
        async with asyncio.timeout(self._statement_timeout), connection.cursor() as cursor:
            if params:
                await cursor.execute(self.statement(sql), [_naive_utc(v) for v in params])
            else:  # nothing to bind: the text as written
                await cursor.execute(sql)
            description = cursor.description
            if description is None:  # not a SELECT
                return Result([], cursor.rowcount, cursor.lastrowid)
            names = [column[0] for column in description]
            in_utc = [column[0] for column in description if column[1] in MYSQL_DATETIME_TYPES]
            rows = [dict(zip(names, row, strict=False)) for row in await cursor.fetchall()]
            for row in rows:
                for name in in_utc:
                    value = row[name]
                    if value is not None:
                        # The same instant as replace(tzinfo=UTC), built several times faster.
                        row[name] = datetime.combine(value.date(), value.time(), UTC)
            return Result(rows, cursor.rowcount, cursor.lastrowid)

    def translate(self, error: BaseException) -> Exception | None:
        """The API's exception for a driver error, None for any other."""
        if isinstance(error, TimeoutError):
            return DatabaseUnavailable("the database did not answer in time")
        if not isinstance(error, asyncmy.errors.Error):
            return None
        code = error.args[0] if error.args else None
        if isinstance(error, asyncmy.errors.IntegrityError):
            return UniqueViolation(str(error))
        if code == MYSQL_DEADLOCK:
            return Deadlock(f"MySQL error {code}")
        # PEP 249's OperationalError is the database failing to operate, not a wrong
        # statement: the server unreachable, gone, busy, out of resources, read-only, killing
        # or timing out the statement, or refusing the API's user (a changed password,
        # revoked grants, a per-user limit). A wrong statement (ProgrammingError, DataError)
        # is the API's bug and stays a 500.
        if isinstance(error, MYSQL_NOT_OPERATING):
            return DatabaseUnavailable(f"MySQL error {code}")
        return None


def _naive_utc(value: Any) -> Any:
    # asyncmy writes a datetime's fields and drops its offset: make them UTC's.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# How SQLAlchemy (migrate, the cleanup job) writes a datetime into SQLite: text that sorts
# in time order. Declared DATETIME columns are read back through the converter below.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_utc(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode()).replace(tzinfo=UTC)


sqlite3.register_converter("DATETIME", _sqlite_utc)


class SQLite:
    """SQLAlchemy's pool of aiosqlite connections (in autocommit mode)."""

    name = "sqlite"
    # The write lock at once, so a read-then-write transaction never races another.
    begin = "BEGIN IMMEDIATE"
    upsert = "ON CONFLICT DO UPDATE SET"
    BUSY_SECONDS = 10

    def __init__(self, url: URL, size: int, timeout: float) -> None:
        self._pool = create_async_engine(
            url.set(drivername="sqlite+aiosqlite"),
            isolation_level="AUTOCOMMIT",
            pool_size=size,
            max_overflow=0,
            pool_timeout=timeout,
            pool_reset_on_return=None,  # transactions are ended by Database.transaction
            # Columns declared DATETIME come back as datetimes (the converter above).
            connect_args={"timeout": self.BUSY_SECONDS, "detect_types": sqlite3.PARSE_DECLTYPES},
        )
        sqlite_pragmas(self._pool.sync_engine, self.BUSY_SECONDS)
        self._path = url.database or ":memory:"

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        await self._pool.dispose()

    async def ping(self) -> None:
        """SELECT 1 on a connection of its own (as MySQL.ping, outside the pool)."""

        def answer() -> None:
            with closing(sqlite3.connect(self._path, timeout=1)) as connection:
                connection.execute("SELECT 1").fetchall()

        await asyncio.to_thread(answer)

    async def acquire(self):
        try:
            return await self._pool.raw_connection()
        except (PoolTimeoutError, DBAPIError) as error:
            raise DatabaseUnavailable("no SQLite connection") from error

    def release(self, pooled, broken: bool) -> None:
        if broken:
            pooled.invalidate()
        else:
            pooled.close()

    @staticmethod
    @lru_cache(maxsize=256)
    def statement(sql: str) -> str:
        # A transaction takes SQLite's write lock at BEGIN (see begin): there is no row lock.
        return sql.removesuffix(" FOR UPDATE")

    async def run(self, pooled, sql: str, params: tuple) -> Result:
        values = [_sqlite_value(value) for value in params]
        async with pooled.driver_connection.execute(self.statement(sql), values) as cursor:
            rows = await cursor.fetchall()
            names = [column[0] for column in cursor.description or ()]
            found = [dict(zip(names, row, strict=True)) for row in rows]
            return Result(found, cursor.rowcount, cursor.lastrowid)

    def translate(self, error: BaseException) -> Exception | None:
        if isinstance(error, sqlite3.IntegrityError):
            return UniqueViolation(str(error))
        # Set on the errors SQLite itself reports; the primary result code is the low byte of
        # an extended one (SQLITE_IOERR_WRITE is an SQLITE_IOERR).
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in SQLITE_NOT_OPERATING:
            return DatabaseUnavailable(error.sqlite_errorname)
        return None


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(SQLITE_DATETIME)
    return value


def unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def sqlite_pragmas(engine, busy_seconds: int) -> None:
    """SQLite: WAL (readers never block the writer), foreign keys, a wait when busy; and a
    lower() that changes every letter's case, as MySQL's does (SQLite's changes ASCII only),
    for the lists' case-insensitive filters."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.create_function("lower", 1, unicode_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_seconds * 1000}")
        cursor.close()
