from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel.ext.asyncio.session import AsyncSession

from fastapi_example.counts import add_rows, kept_total
from fastapi_example.db import DatabaseDep, SessionDep
from fastapi_example.deps import CurrentUser
from fastapi_example.errors import unique_or_409
from fastapi_example.models import (
    MAX_ID,
    Item,
    ItemCreate,
    ItemPublic,
    ItemsPage,
    ItemUpdate,
    UserPublic,
    utcnow,
)
from fastapi_example.paging import Filter, PagingDep, contains
from fastapi_example.rows import read_by_id
from fastapi_example.versions import VersionedRoute

router = APIRouter(prefix="/items", tags=["items"], route_class=VersionedRoute)
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]


NAME_TAKEN = "An item with that name already exists"


async def _save(db: AsyncSession, item: Item) -> Item:
    db.add(item)
    await unique_or_409(db, db.commit, NAME_TAKEN)
    return item


@router.post("", response_model=ItemPublic, status_code=status.HTTP_201_CREATED)
async def create_item(body: ItemCreate, user: CurrentUser, db: SessionDep):
    item = Item(name=body.name, description=body.description, user_id=user.id)
    db.add(item)
    await unique_or_409(db, db.flush, NAME_TAKEN)  # before the count's row is locked
    await add_rows(db, "items", 1)
    return await _save(db, item)


ITEM_FILTERS = {"name": contains(Item.name), "description": contains(Item.description)}


@router.get("", response_model=ItemsPage)
async def list_items(
    _user: CurrentUser,
    db: DatabaseDep,
    paging: PagingDep,
    name: Filter = None,
    description: Filter = None,
):
    """Every item, filtered by name and description substrings (case-insensitive)."""
    given = {"name": name, "description": description}
    # Unfiltered, the total is the count kept on write: COUNT(*) reads every row in InnoDB.
    total = None if name is not None or description is not None else kept_total("items")
    total, items = await paging.fetch(db, ItemPublic, Item, ITEM_FILTERS, given, total)
    return ItemsPage(page=paging.page, limit=paging.limit, total=total, items=items)


ITEM_NOT_FOUND = "Item not found"


@router.get("/{item_id}", response_model=ItemPublic)
async def read_item(item_id: ItemId, _user: CurrentUser, db: DatabaseDep):
    return await read_by_id(db, ItemPublic, Item, item_id, ITEM_NOT_FOUND)


async def _owned_item(db: AsyncSession, user: UserPublic, item_id: int) -> Item:
    """The item to change, loaded in the write transaction; 403 unless owner or admin."""
    item = await db.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=ITEM_NOT_FOUND)
    if item.user_id != user.id and not user.is_admin:
        raise HTTPException(status_code=403, detail="Only the owner or an admin may change it")
    return item


@router.patch("/{item_id}", response_model=ItemPublic)
async def update_item(item_id: ItemId, body: ItemUpdate, user: CurrentUser, db: SessionDep):
    item = await _owned_item(db, user, item_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    item.updated_at = utcnow()
    return await _save(db, item)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: ItemId, user: CurrentUser, db: SessionDep) -> None:
    await db.delete(await _owned_item(db, user, item_id))
    await add_rows(db, "items", -1)
    await db.commit()
