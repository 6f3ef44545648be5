"""Row counts kept on write (models.RowCount): an unfiltered list's total without COUNT(*)."""

from functools import cache

from sqlalchemy import ScalarSelect, bindparam, func, update
from sqlmodel import Session, SQLModel, select

from fastapi_example.db import Transaction
from fastapi_example.driver import Prepared
from fastapi_example.models import Item, RowCount

COUNTED: dict[str, type[SQLModel]] = {"items": Item}
_ADD_ROWS = Prepared(
    update(RowCount)
    .where(RowCount.table_name == bindparam("table"))
    .values(total=RowCount.total + bindparam("delta"))
)


async def add_rows(db: Transaction, table: str, delta: int) -> None:
    """In the transaction that inserts or deletes the rows; the caller commits."""
    await db.execute(_ADD_ROWS, {"table": table, "delta": delta})


@cache
def kept_total(table: str) -> ScalarSelect:
    """The kept count as a scalar subquery, to read along with a page of the table (built once)."""
    return select(RowCount.total).where(RowCount.table_name == table).scalar_subquery()


def recount(db: Session) -> None:
    """Set every count from the table itself, exactly, while the API writes.

    The count's row is locked before the table is counted, so the snapshot the count reads
    already holds every writer that added to the row; writers still waiting for the lock add
    their rows after this commit.
    """
    for table, model in COUNTED.items():
        db.commit()  # a new transaction: its snapshot starts after the lock below
        row = db.exec(select(RowCount).where(RowCount.table_name == table).with_for_update())
        counter = row.first() or RowCount(table_name=table, total=0)
        counter.total = db.exec(select(func.count()).select_from(model)).one()
        db.add(counter)
        db.commit()
