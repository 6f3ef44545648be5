from fastapi import HTTPException, Request, Response, status
from sqlalchemy import bindparam, delete, insert, select, update

from fastapi_example.counts import add_rows, kept_total
from fastapi_example.db import Transaction, database
from fastapi_example.deps import Caller, CallerRoute, current_user
from fastapi_example.driver import Prepared
from fastapi_example.errors import unique_or_409
from fastapi_example.models import (
    Id,
    Item,
    ItemCreate,
    ItemPublic,
    ItemsPage,
    ItemUpdate,
    utcnow,
)
from fastapi_example.paging import Filter, ListQuery, Paging, contains
from fastapi_example.params import InPath
from fastapi_example.routes import PrefixedRouter
from fastapi_example.rows import public_columns, public_json, read_by_id

# Every route needs a caller (CallerRoute: X-Version, then the bearer token).
router = PrefixedRouter(prefix="/items", tags=["items"], route_class=CallerRoute)


class ItemPath(InPath):
    item_id: Id


# The writes' statements, built once: Core in a Database.transaction, not the ORM (db.py).
_ITEM_BY_ID = Item.id == bindparam("item_id")
_INSERT = Prepared(
    insert(Item).values(
        name=bindparam("name"),
        description=bindparam("description"),
        user_id=bindparam("user_id"),
        created_at=bindparam("created_at"),
        updated_at=bindparam("updated_at"),
    )
)
_LOCK = Prepared(select(*public_columns(ItemPublic, Item)).where(_ITEM_BY_ID).with_for_update())
_UPDATE = Prepared(
    update(Item)
    .where(_ITEM_BY_ID)
    .values(
        name=bindparam("new_name"),
        description=bindparam("new_description"),
        updated_at=bindparam("new_updated_at"),
    )
)
_DELETE = Prepared(delete(Item).where(_ITEM_BY_ID))

NAME_TAKEN = "An item with that name already exists"


ITEM_FILTERS = {"name": contains(Item.name), "description": contains(Item.description)}


class ItemQuery(ListQuery):
    name: Filter = None
    description: Filter = None


# Routes are matched in the order declared: the reads, the busiest, first. They take their
# Request, not a dependency for the database (db.database) nor declared parameters (params.py),
# and answer a Response: CallerRoute, a DirectRoute, calls them without FastAPI's handler.
@router.get("", response_model=ItemsPage, openapi_extra=ItemQuery.documented())
async def list_items(request: Request) -> Response:
    """Every item, filtered by name and description substrings (case-insensitive)."""
    query = ItemQuery.of(request)
    given = query.filters()
    # Unfiltered, the total is the count kept on write: COUNT(*) reads every row in InnoDB.
    total = None if any(v is not None for v in given.values()) else kept_total("items")
    return await Paging(query.page, query.limit).answer(
        database(request), ItemPublic, Item, ITEM_FILTERS, given, "items", total
    )


ITEM_NOT_FOUND = "Item not found"


@router.get("/{item_id}", response_model=ItemPublic, openapi_extra=ItemPath.documented())
async def read_item(request: Request) -> Response:
    item_id = ItemPath.of(request).item_id
    return await read_by_id(database(request), ItemPublic, Item, item_id, ITEM_NOT_FOUND)


@router.post("", response_model=ItemPublic, status_code=status.HTTP_201_CREATED)
async def create_item(body: ItemCreate, request: Request) -> Response:
    now, user = utcnow(), current_user(request)
    item = {**body.model_dump(), "user_id": user.id, "created_at": now, "updated_at": now}
    async with database(request).transaction() as db:
        # The name's index decides before the count's row is locked.
        item["id"] = await unique_or_409(db, db.insert(_INSERT, item), NAME_TAKEN)
        await add_rows(db, "items", 1)
        await db.commit()
    return public_json(ItemPublic, item, status.HTTP_201_CREATED)


async def _owned_item(db: Transaction, user: Caller, item_id: int) -> dict:
    """The item to change, locked in the write transaction; 403 unless owner or admin."""
    rows = await db.rows(_LOCK, {"item_id": item_id})
    if not rows:
        raise HTTPException(status_code=404, detail=ITEM_NOT_FOUND)
    item = dict(rows[0])
    if item["user_id"] != user.id and not user.is_admin:
        raise HTTPException(status_code=403, detail="Only the owner or an admin may change it")
    return item


@router.patch("/{item_id}", response_model=ItemPublic, openapi_extra=ItemPath.documented())
async def update_item(body: ItemUpdate, request: Request) -> Response:
    item_id = ItemPath.of(request).item_id
    async with database(request).transaction() as db:
        item = await _owned_item(db, current_user(request), item_id)
        item.update(body.model_dump(exclude_unset=True), updated_at=utcnow())
        changes = {f"new_{field}": item[field] for field in ("name", "description", "updated_at")}
        await unique_or_409(db, db.execute(_UPDATE, {"item_id": item_id, **changes}), NAME_TAKEN)
        await db.commit()
    return public_json(ItemPublic, item)


@router.delete(
    "/{item_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=ItemPath.documented()
)
async def delete_item(request: Request) -> None:
    item_id = ItemPath.of(request).item_id
    async with database(request).transaction() as db:
        await _owned_item(db, current_user(request), item_id)
        await db.execute(_DELETE, {"item_id": item_id})
        await add_rows(db, "items", -1)
        await db.commit()
