"""Page/limit query parameters and a counted, stably ordered page of a query."""

from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from fastapi_example.models import Text

MAX_PAGE = 2_147_483_647


class Paging:
    def __init__(self, page: int, limit: int) -> None:
        self.page, self.limit = page, limit

    async def fetch(
        self, db: AsyncSession, query: SelectOfScalar, order_by, total: int | None = None
    ) -> tuple[int, list]:
        """(total matching rows, counted unless given; this page's rows ordered by order_by)."""
        if total is None:
            count = select(func.count()).select_from(query.subquery())
            total = (await db.exec(count)).one()
        page = query.order_by(order_by).offset((self.page - 1) * self.limit).limit(self.limit)
        rows = (await db.exec(page)).all()
        return total, list(rows)


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
