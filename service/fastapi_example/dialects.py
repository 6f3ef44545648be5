"""What differs between MySQL (asyncmy) and SQLite (aiosqlite) when the API runs plain SQL.

The data modules write one SQL text for both databases, with `?` placeholders. Each class
here turns it into what its driver takes, runs it on a driver connection and gives the rows
back alike: dictionaries, datetimes aware in UTC (both databases store them in UTC without
an offset), booleans as 0 or 1. It also says which driver errors are a refused write (a
unique index), a lost or busy database, or a deadlock worth retrying.
"""

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import asyncmy.errors
from asyncmy.constants import FIELD_TYPE

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Result:
    rows: list[Row]
    rowcount: int  # rows an UPDATE or DELETE matched
    lastrowid: int | None  # an INSERT's new id


class DatabaseUnavailable(Exception):
    """The database is lost, busy or out of connections: the request may be tried again."""


class Deadlock(DatabaseUnavailable):
    """The database chose this transaction as a deadlock victim; it did nothing yet."""


class UniqueViolation(Exception):
    """A unique index (or another constraint) refused the write."""


# MySQL: 2003 can't connect, 2006 gone away, 2013 lost connection, 1040 too many
# connections, 1205 lock wait timeout.
MYSQL_UNAVAILABLE = frozenset({2003, 2006, 2013, 1040, 1205})
MYSQL_DEADLOCK = 1213
MYSQL_DATETIMES = frozenset({FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP})


class MySQL:
    name = "mysql"
    begin = "BEGIN"

    @staticmethod
    @lru_cache(maxsize=256)
    def statement(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    async def run(self, connection, sql: str, params: tuple) -> Result:
        async with connection.cursor() as cursor:
            await cursor.execute(self.statement(sql), [_naive_utc(value) for value in params])
            rows = await cursor.fetchall() if cursor.description else ()
            return Result(_rows(cursor.description, rows), cursor.rowcount, cursor.lastrowid)

    def translate(self, error: BaseException) -> Exception | None:
        """The API's exception for a driver error, None for any other."""
        if not isinstance(error, asyncmy.errors.Error):
            return None
        code = error.args[0] if error.args else None
        if isinstance(error, asyncmy.errors.IntegrityError):
            return UniqueViolation(str(error))
        if code == MYSQL_DEADLOCK:
            return Deadlock(str(error))
        if code in MYSQL_UNAVAILABLE or isinstance(error, asyncmy.errors.InterfaceError):
            return DatabaseUnavailable(str(error))
        return None


def _naive_utc(value: Any) -> Any:
    # asyncmy writes a datetime's fields and drops its offset: make them UTC's.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _rows(description, rows) -> list[Row]:
    if not rows:
        return []
    names = [column[0] for column in description]
    times = [i for i, column in enumerate(description) if column[1] in MYSQL_DATETIMES]
    result = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        for i in times:
            if row[i] is not None:
                values[names[i]] = row[i].replace(tzinfo=UTC)
        result.append(values)
    return result


# How SQLAlchemy (migrate, the cleanup job) writes a datetime into SQLite: text that sorts
# in time order. Declared DATETIME columns are read back through the converter below.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_utc(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode()).replace(tzinfo=UTC)


sqlite3.register_converter("DATETIME", _sqlite_utc)


class SQLite:
    name = "sqlite"
    # The write lock at once, so a read-then-write transaction never races another.
    begin = "BEGIN IMMEDIATE"
    # Given to sqlite3.connect: columns declared DATETIME come back as datetimes.
    detect_types = sqlite3.PARSE_DECLTYPES

    @staticmethod
    @lru_cache(maxsize=256)
    def statement(sql: str) -> str:
        # A transaction takes SQLite's write lock at BEGIN (see begin): there is no row lock.
        return sql.removesuffix(" FOR UPDATE")

    async def run(self, connection, sql: str, params: tuple) -> Result:
        values = [_sqlite_value(value) for value in params]
        async with connection.execute(self.statement(sql), values) as cursor:
            rows = await cursor.fetchall()
            names = [column[0] for column in cursor.description or ()]
            found = [dict(zip(names, row, strict=True)) for row in rows]
            return Result(found, cursor.rowcount, cursor.lastrowid)

    def translate(self, error: BaseException) -> Exception | None:
        if isinstance(error, sqlite3.IntegrityError):
            return UniqueViolation(str(error))
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            return DatabaseUnavailable(str(error))
        return None


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(SQLITE_DATETIME)
    return value
