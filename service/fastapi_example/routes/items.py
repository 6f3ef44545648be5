from typing import Annotated

from fastapi import Depends, HTTPException, Query, status

from fastapi_example.data import items
from fastapi_example.db import Connection, DatabaseDep, UniqueViolation
from fastapi_example.deps import Caller, CurrentUser, VersionChecked, current_user
from fastapi_example.models import (
    Id,
    ItemCreate,
    ItemPublic,
    ItemQuery,
    ItemsPage,
    ItemUpdate,
    utcnow,
)
from fastapi_example.routes import PrefixedRouter, changed

# Every route: the X-Version check, then a caller with a valid access token.
router = PrefixedRouter(
    prefix="/items", tags=["items"], dependencies=[VersionChecked, Depends(current_user)]
)

ITEM_NOT_FOUND = "Item not found"
NAME_TAKEN = "An item with that name already exists"


@router.get("", response_model=ItemsPage)
async def list_items(db: DatabaseDep, query: Annotated[ItemQuery, Query()]):
    """Every item, filtered by name and description substrings (case-insensitive)."""
    total, page = await items.list_items(db, query)
    return {"page": query.page, "limit": query.limit, "total": total, "items": page}


@router.get("/{item_id}", response_model=ItemPublic)
async def read_item(item_id: Id, db: DatabaseDep):
    item = await items.read_item(db, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=ITEM_NOT_FOUND)
    return item


@router.post("", response_model=ItemPublic, status_code=status.HTTP_201_CREATED)
async def create_item(item: ItemCreate, db: DatabaseDep, user: CurrentUser):
    try:
        return await items.create_item(db, item, user.id)
    except UniqueViolation:
        raise HTTPException(status_code=409, detail=NAME_TAKEN) from None


async def _owned_item(tx: Connection, user: Caller, item_id: int) -> dict:
    """The item to change, locked in the transaction; 403 unless owner or admin."""
    item = await items.lock_item(tx, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=ITEM_NOT_FOUND)
    if item["user_id"] != user.id and not user.is_admin:
        raise HTTPException(status_code=403, detail="Only the owner or an admin may change it")
    return item


@router.patch("/{item_id}", response_model=ItemPublic)
async def update_item(item_id: Id, changes: ItemUpdate, db: DatabaseDep, user: CurrentUser):
    try:
        async with db.transaction() as tx:
            item = await _owned_item(tx, user, item_id)
            if update := changed(item, changes.model_dump(exclude_unset=True)):
                item.update(update, updated_at=utcnow())
                await items.update_item(tx, item)
    except UniqueViolation:
        raise HTTPException(status_code=409, detail=NAME_TAKEN) from None
    return item


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: Id, db: DatabaseDep, user: CurrentUser) -> None:
    async with db.transaction() as tx:
        await _owned_item(tx, user, item_id)
        await items.delete_item(tx, item_id)
