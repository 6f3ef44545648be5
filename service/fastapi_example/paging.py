"""A list route's query (page, limit, filters), and a counted, stably ordered page of a table."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import Response
from pydantic import Field
from pydantic_core import to_json
from sqlalchemy import ColumnElement, ScalarSelect, bindparam, func, select
from sqlmodel import SQLModel

from fastapi_example.db import Database
from fastapi_example.driver import Prepared
from fastapi_example.models import Text
from fastapi_example.params import InQuery
from fastapi_example.rows import public_columns

MAX_PAGE = 2_147_483_647
LIKE_ESCAPE = "/"


@dataclass(frozen=True, eq=False)
class Match:
    """A list filter: a condition on a bound parameter, and how a query value binds to it."""

    condition: ColumnElement[bool]
    param: str
    bind: Callable[[Any], Any] = lambda value: value


def contains(column) -> Match:
    """Case-insensitive substring match where % and _ are literal."""
    param = f"{column.key}_contains"
    condition = func.lower(column).like(bindparam(param), escape=LIKE_ESCAPE)
    return Match(condition, param, lambda text: f"%{_escape_like(text.lower())}%")


def equals(column) -> Match:
    return Match(column == bindparam(column.key), column.key)


def _escape_like(text: str) -> str:
    for special in (LIKE_ESCAPE, "%", "_"):  # the escape character itself first
        text = text.replace(special, LIKE_ESCAPE + special)
    return text


class Paging:
    def __init__(self, page: int, limit: int) -> None:
        self.page, self.limit = page, limit

    async def answer(
        self,
        db: Database,
        public: type[SQLModel],
        table: type[SQLModel],
        filters: Mapping[str, Match],
        given: Mapping[str, Any],
        key: str,
        total: ScalarSelect | None = None,
    ) -> Response:
        """This page of the rows matching the `given` filters, as `public` under `key`, ordered
        by id, with the page, limit and total: the JSON of the route's page model.

        `filters` names the table's filters; `given` their values from the query (None: not
        given). The total rides along with the page as a scalar subquery (counted with the
        filters unless given): one round trip, and a second only when the page is past the end.
        The JSON is made from the rows themselves: a model built per row (without validation,
        as before) only to be serialized again was a quarter of a page's instructions. The
        route's response_model still documents the page; tests compare the bytes with the
        model's.
        """
        used = tuple((name, filters[name]) for name, value in given.items() if value is not None)
        params = {match.param: match.bind(given[name]) for name, match in used}
        params.update(offset=(self.page - 1) * self.limit, limit=self.limit)
        page, total_only = _statements(public, table, used, total)
        rows = await db.rows(page, params)
        counted = rows or await db.rows(total_only, params)  # past the end: no row carries it
        fields = tuple(public.model_fields)  # the model's order, looked up once per page
        shown = [{name: row[name] for name in fields} for row in rows]
        body = {"page": self.page, "limit": self.limit, "total": counted[0]["_total"], key: shown}
        return Response(to_json(body), media_type="application/json")


@cache
def _statements(
    public: type[SQLModel],
    table: type[SQLModel],
    used: tuple[tuple[str, Match], ...],
    total: ScalarSelect | None,
) -> tuple[Prepared, Prepared]:
    """(a page of `public` rows matching the filters used, ordered by id, with their total;
    that total alone), built once per combination of filters, values bound per call."""
    where = [match.condition for _, match in used]
    if total is None:
        total = select(func.count()).select_from(table).where(*where).scalar_subquery()
    page = (
        select(*public_columns(public, table), total.label("_total"))
        .where(*where)
        .order_by(table.__table__.c.id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )
    return Prepared(page), Prepared(select(page.selected_columns._total))


Filter = Annotated[Text | None, Field(min_length=1, max_length=100)]


class ListQuery(InQuery):
    """A list route's query: the page, the limit and, in a subclass, the filters."""

    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 20

    def filters(self) -> dict[str, Any]:
        """The filters' values, None where not given."""
        return self.model_dump(exclude=_PAGING)


_PAGING = frozenset(ListQuery.model_fields)
