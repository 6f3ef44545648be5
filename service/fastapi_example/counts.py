"""`migrate`'s recount of the row counts kept on write (models.RowCount, data/items.py)."""

from sqlmodel import Session, SQLModel, func, select

from fastapi_example.models import Item, RowCount

COUNTED: dict[str, type[SQLModel]] = {"items": Item}


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
