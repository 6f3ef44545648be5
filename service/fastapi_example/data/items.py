"""Items: read, list, create, change and delete, with the table's kept row count.

`row_counts` keeps how many items there are, changed in the transaction that inserts or
deletes one (migrate recounts it), so an unfiltered list needs no COUNT(*).
"""

from fastapi_example.data.paging import Filters, counted_page
from fastapi_example.db import Connection, Database, Row
from fastapi_example.models import ItemCreate, ItemQuery, utcnow

# ItemPublic's fields, in its order.
COLUMNS = "name, description, id, user_id, created_at, updated_at"
KEPT_TOTAL = "SELECT total FROM row_counts WHERE table_name = 'items'"


async def read_item(db: Database, item_id: int) -> Row | None:
    return await db.fetch_one(
        "SELECT name, description, id, user_id, created_at, updated_at FROM items WHERE id = ?",
        item_id,
    )


async def list_items(db: Database, query: ItemQuery) -> tuple[int, list[Row]]:
    """(how many match, the page): name and description filtered by substring, any case."""
    filters = Filters()
    filters.contains("name", query.name)
    filters.contains("description", query.description)
    kept = None if filters.conditions else KEPT_TOTAL
    return await counted_page(db, COLUMNS, "items", filters, query.page, query.limit, kept)


async def create_item(db: Database, item: ItemCreate, user_id: int) -> Row:
    """The new item; db.UniqueViolation if its name is taken."""
    now = utcnow()
    async with db.transaction() as tx:
        # The name's unique index decides first, before the count's row is locked.
        item_id = await tx.insert(
            "INSERT INTO items (name, description, user_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            item.name,
            item.description,
            user_id,
            now,
            now,
        )
        await _add_to_count(tx, 1)
    return {**item.model_dump(), "id": item_id, "user_id": user_id, "created_at": now,
            "updated_at": now}  # fmt: skip


async def lock_item(tx: Connection, item_id: int) -> Row | None:
    """The item, locked until the transaction ends."""
    return await tx.fetch_one(
        "SELECT name, description, id, user_id, created_at, updated_at FROM items"
        " WHERE id = ? FOR UPDATE",
        item_id,
    )


async def update_item(tx: Connection, item: Row) -> None:
    """Write the item's name, description and updated_at; db.UniqueViolation if the name
    is another item's."""
    await tx.execute(
        "UPDATE items SET name = ?, description = ?, updated_at = ? WHERE id = ?",
        item["name"],
        item["description"],
        item["updated_at"],
        item["id"],
    )


async def delete_item(tx: Connection, item_id: int) -> None:
    await tx.execute("DELETE FROM items WHERE id = ?", item_id)
    await _add_to_count(tx, -1)


async def _add_to_count(tx: Connection, delta: int) -> None:
    await tx.execute("UPDATE row_counts SET total = total + ? WHERE table_name = 'items'", delta)
