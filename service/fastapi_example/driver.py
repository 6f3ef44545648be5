"""MySQL's request reads: Core statements built once, run through asyncmy's own pool.

A token lookup through SQLAlchemy's asyncio pool and Connection cost about 160 µs of CPU;
the same statement through asyncmy's pool about 40 µs (benchmarks/README.md). The
statements stay SQLAlchemy Core, compiled once per dialect, and their rows are typed by the
columns' own result processors (UTC datetimes, booleans), so both paths give the same values.
asyncmy drops a connection whose query was cancelled mid-answer; SQLite reads go through
SQLAlchemy (Database.rows).
"""

from collections.abc import Mapping
from typing import Any

import asyncmy
import asyncmy.errors
from sqlalchemy import Dialect, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


class Compiled:
    """A statement's SQL for one dialect, its parameters in order, and its column typing."""

    def __init__(self, statement: Select, dialect: Dialect) -> None:
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
        self.keys = [column.key for column in statement.selected_columns]
        # Only the columns that have one (most come from the driver as they are). No cursor
        # type code: none of the processors for these column types reads it.
        processors = (
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in statement.selected_columns
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
    """A Core select built once (module level, or cached), compiled on first use per dialect."""

    def __init__(self, statement: Select) -> None:
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
            async with self._pool.acquire() as connection, connection.cursor() as cursor:
                await cursor.execute(query.sql, args)
                rows = await cursor.fetchall()
        except asyncmy.errors.Error as error:
            # As SQLAlchemy raises it: the error handlers answer 503 for a lost database.
            raise DBAPIError.instance(query.sql, args, error, asyncmy.errors.Error) from error
        return [query.typed(row) for row in rows]
