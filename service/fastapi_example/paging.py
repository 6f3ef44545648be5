"""Page/limit query parameters and a counted, stably ordered page of a table."""

from functools import cache
from typing import Annotated, TypeVar

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, ScalarSelect, Select, bindparam, func, select
from sqlmodel import SQLModel

from fastapi_example.db import Database, all_rows
from fastapi_example.driver import Prepared
from fastapi_example.models import Text
from fastapi_example.rows import public_columns, to_public

MAX_PAGE = 2_147_483_647
M = TypeVar("M", bound=SQLModel)


class Paging:
    def __init__(self, page: int, limit: int) -> None:
        self.page, self.limit = page, limit

    async def fetch(
        self,
        db: Database,
        public: type[M],
        table: type[SQLModel],
        where: list[ColumnElement[bool]],
        total: ScalarSelect | None = None,
    ) -> tuple[int, list[M]]:
        """(rows matching `where`, this page of them as `public` models, ordered by id).

        The total rides along with the page as a scalar subquery (counted with `where` unless
        given): one round trip, and a second only when the page is past the end.
        """
        bounds = {"offset": (self.page - 1) * self.limit, "limit": self.limit}
        if where:
            page = _page(public, table, where, total)
            rows = await db.read(all_rows, page, bounds)
        else:
            # The same statement for every page: built once, its offset and limit bound per
            # call, and a hot read (Database.rows).
            whole = _whole(public, table, total)
            page = whole.statement
            rows = await db.rows(whole, bounds)
        if not rows:
            total_only = select(page.selected_columns._total)
            return (await db.read(all_rows, total_only, {}))[0]["_total"], []
        return rows[0]["_total"], [to_public(public, row) for row in rows]


def _page(
    public: type[SQLModel],
    table: type[SQLModel],
    where: list[ColumnElement[bool]] | tuple = (),
    total: ScalarSelect | None = None,
) -> Select:
    """A page of `public` rows matching `where`, ordered by id, with their total."""
    if total is None:
        total = select(func.count()).select_from(table).where(*where).scalar_subquery()
    return (
        select(*public_columns(public, table), total.label("_total"))
        .where(*where)
        .order_by(table.__table__.c.id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


@cache
def _whole(public: type[SQLModel], table: type[SQLModel], total: ScalarSelect | None) -> Prepared:
    return Prepared(_page(public, table, (), total))


async def paging(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Paging:
    """`async`: a class used as a dependency would be built in the threadpool."""
    return Paging(page, limit)


PagingDep = Annotated[Paging, Depends(paging)]
Filter = Annotated[Text | None, Query(min_length=1, max_length=100)]


def contains(column, text: str):
    """Case-insensitive substring match where % and _ are literal."""
    return func.lower(column).contains(text.lower(), autoescape=True)
