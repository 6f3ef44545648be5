"""A page of a table's rows, ordered by id, and how many rows match its filters."""

from typing import Any

from fastapi_example.db import Database, Row

LIKE_ESCAPE = "/"
# Python's lower() writes a capital sigma at a word's end as the final sigma, MySQL's
# LOWER() as the small sigma: the text and the column both have the final one folded.
FINAL_SIGMA, SIGMA = "\u03c2", "\u03c3"


def contains(text: str) -> str:
    """A LIKE pattern for a case-insensitive substring, % and _ taken literally."""
    for special in (LIKE_ESCAPE, "%", "_"):  # the escape character itself first
        text = text.replace(special, LIKE_ESCAPE + special)
    return f"%{text.lower().replace(FINAL_SIGMA, SIGMA)}%"


class Filters:
    """The conditions of a list's WHERE clause (constant SQL) and their bound values."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.values: list[Any] = []

    def contains(self, column: str, text: str | None) -> None:
        if text is not None:
            folded = f"replace(lower({column}), '{FINAL_SIGMA}', '{SIGMA}')"
            self.conditions.append(f"{folded} LIKE ? ESCAPE '{LIKE_ESCAPE}'")
            self.values.append(contains(text))

    def equals(self, column: str, value: Any) -> None:
        if value is not None:
            self.conditions.append(f"{column} = ?")
            self.values.append(value)

    @property
    def where(self) -> str:
        return f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


async def counted_page(
    db: Database,
    columns: str,
    table: str,
    filters: Filters,
    page: int,
    limit: int,
    kept_total: str | None = None,
) -> tuple[int, list[Row]]:
    """(how many rows match, this page of them).

    The total rides along with the page as a scalar subquery: one round trip, and a second
    only for a page past the end, which has no row to carry it. `kept_total` is a query of
    a count kept on write, for an unfiltered list (COUNT(*) reads every row in InnoDB).
    """
    where, values = filters.where, filters.values
    if kept_total is None:
        total, total_values = f"SELECT count(*) FROM {table}{where}", values  # noqa: S608
    else:
        total, total_values = kept_total, []
    rows = await db.fetch_all(
        f"SELECT {columns}, ({total}) AS total FROM {table}{where}"  # noqa: S608 - constants
        " ORDER BY id LIMIT ? OFFSET ?",
        *total_values,
        *values,
        limit,
        (page - 1) * limit,
    )
    if not rows:
        counted = await db.fetch_one(f"SELECT ({total}) AS total", *total_values)
        return counted["total"], []
    for row in rows:
        matching = row.pop("total")
    return matching, rows
