"""MySQL's requests: Core statements built once, run on asyncmy connections directly.

A token lookup through SQLAlchemy's asyncio pool and Connection cost about 160 µs of CPU;
the same statement through asyncmy's pool about 40 µs (benchmarks/HISTORY.md). The
statements stay SQLAlchemy Core, compiled once per dialect, and their rows are typed by the
columns' own result processors (UTC datetimes, booleans), so both paths give the same values.
asyncmy drops a connection whose query was cancelled mid-answer. Reads run through asyncmy's
own pool (DriverPool); the hot writes in a transaction on a writer-pool connection
(DriverTransaction). SQLite runs the same statements through SQLAlchemy (db.py).
"""

from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import anyio
import asyncmy
import asyncmy.errors
from sqlalchemy import Dialect, Executable, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


class Compiled:
    """A statement's SQL for one dialect, its parameters in order, and its column typing."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if "POSTCOMPILE" in compiled.string:  # expanding IN and the like need SQLAlchemy
            raise ValueError("a prepared statement cannot have post-compile parameters")
        if not compiled.positional:  # args() gives a tuple (%s, ?), not a mapping (%(x)s)
            raise ValueError(f"{dialect.paramstyle} parameters are not positional")
        self.sql = compiled.string
        # Per parameter: its name, whether the caller must give it, the value bound in the
        # statement itself (a literal), and its type's bind processor.
        self.params = [
            (
                name,
                bind.required,
                bind.value,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name, bind in ((name, compiled.binds[name]) for name in compiled.positiontup or ())
        ]
        columns = statement.selected_columns if isinstance(statement, Select) else ()
        self.keys = [column.key for column in columns]
        # Only the columns that have one (most come from the driver as they are). No cursor
        # type code: none of the processors for these column types reads it.
        processors = (
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in columns
        )
        self.processors = [(key, process) for key, process in processors if process]

    def args(self, params: Mapping[str, Any]) -> tuple:
        args = []
        for name, required, bound, process in self.params:
            value = params[name] if required else params.get(name, bound)
            args.append(process(value) if process else value)
        return tuple(args)

    def typed(self, row: tuple) -> dict[str, Any]:
        values = dict(zip(self.keys, row, strict=True))
        for key, process in self.processors:
            if values[key] is not None:
                values[key] = process(values[key])
        return values


class Prepared:
    """A Core statement built once (module level, or cached), compiled on first use per dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """For this dialect and driver (their parameter styles differ). The dialect may not
        have met the server yet: these statements use nothing that depends on its version."""
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = Compiled(self.statement, dialect)
        return compiled


class DriverPool:
    """asyncmy's pool, connected as the reader engine connects: autocommit, same arguments."""

    def __init__(self, engine: AsyncEngine, size: int, recycle_seconds: int, timeout: int):
        self.dialect = engine.dialect
        _args, params = self.dialect.create_connect_args(engine.url)
        self._connect = dict(params, autocommit=True, connect_timeout=timeout)
        self._size, self._recycle = size, recycle_seconds
        self._pool: asyncmy.Pool | None = None

    async def open(self) -> None:
        """The pool of this event loop; connections open on first use (minsize 0)."""
        self._pool = await asyncmy.create_pool(
            minsize=0, maxsize=self._size, pool_recycle=self._recycle, **self._connect
        )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            await self._pool.wait_closed()
            self._pool = None

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self._pool is None:
            raise RuntimeError("the driver pool is not open: await Database.start() first")
        query = prepared.compiled(self.dialect)
        args = query.args(params)
        try:
            async with self._pool.acquire() as connection:
                rows, _, _ = await _run(connection, query, args)
        except asyncmy.errors.Error as error:
            raise _as_sqlalchemy(query, args, error) from error
        return [query.typed(row) for row in rows]


async def _run(connection: asyncmy.Connection, query: Compiled, args: tuple) -> tuple:
    """Its rows (a select's), the number of rows it matched, and an INSERT's new id."""
    async with connection.cursor() as cursor:
        await cursor.execute(query.sql, args)
        rows = await cursor.fetchall() if query.keys else ()
        return rows, cursor.rowcount, cursor.lastrowid


def _as_sqlalchemy(query: Compiled, args: tuple, error: Exception) -> DBAPIError:
    # As SQLAlchemy raises it (IntegrityError, OperationalError, ...): the error handlers
    # answer 503 for a lost database, the routes 409 for a refused unique name.
    return DBAPIError.instance(query.sql, args, error, asyncmy.errors.Error)


class DriverTransaction:
    """A transaction on a writer-pool connection, its statements sent by asyncmy itself.

    The connection comes from SQLAlchemy's writer pool (READ COMMITTED, no autocommit, idle
    ones pinged), so a pod keeps one writer pool; the first statement begins the
    transaction. `close` rolls back what was not committed.
    """

    def __init__(self, connection: asyncmy.Connection, dialect: Dialect) -> None:
        self._connection, self._dialect = connection, dialect
        self._open = False  # a statement ran since the last commit or rollback
        self.broken = False  # interrupted mid-statement: the connection must not be reused

    async def _execute(self, query: Compiled, params: Mapping[str, Any]) -> tuple:
        args = query.args(params)
        self._open = True
        try:
            return await _run(self._connection, query, args)
        except asyncmy.errors.Error as error:
            raise _as_sqlalchemy(query, args, error) from error
        except BaseException:  # cancelled mid-answer (asyncmy closes such a connection)
            self.broken = True
            raise

    async def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        query = prepared.compiled(self._dialect)
        rows, _, _ = await self._execute(query, params)
        return [query.typed(row) for row in rows]

    async def execute(self, prepared: Prepared, params: Mapping[str, Any]) -> int:
        """An UPDATE or DELETE: the number of rows it matched."""
        _, matched, _ = await self._execute(prepared.compiled(self._dialect), params)
        return matched

    async def insert(self, prepared: Prepared, params: Mapping[str, Any]) -> int:
        """An INSERT: the new row's id."""
        _, _, new_id = await self._execute(prepared.compiled(self._dialect), params)
        return new_id

    async def commit(self) -> None:
        await self._end(self._connection.commit)

    async def rollback(self) -> None:
        await self._end(self._connection.rollback)

    async def _end(self, end) -> None:
        try:
            await end()
        except asyncmy.errors.Error as error:
            self.broken = True
            raise DBAPIError.instance(None, None, error, asyncmy.errors.Error) from error
        except BaseException:
            self.broken = True
            raise
        self._open = False

    async def close(self) -> None:
        """Roll back an unfinished transaction, even when cancelled."""
        if self._open and not self.broken:
            # A failure marks it broken: the caller then invalidates the connection.
            with anyio.CancelScope(shield=True), suppress(DBAPIError):
                await self.rollback()
