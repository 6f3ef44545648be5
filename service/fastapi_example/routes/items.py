from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel import Session, select

from fastapi_example.counts import add_rows, total_rows
from fastapi_example.db import SessionDep, in_thread
from fastapi_example.deps import CurrentUser
from fastapi_example.errors import unique_or_409
from fastapi_example.models import (
    MAX_ID,
    Item,
    ItemCreate,
    ItemPublic,
    ItemsPage,
    ItemUpdate,
    User,
    utcnow,
)
from fastapi_example.paging import Filter, Paging, PagingDep, contains

router = APIRouter(prefix="/items", tags=["items"])
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]


NAME_TAKEN = "An item with that name already exists"


def _save(db: Session, item: Item) -> Item:
    db.add(item)
    unique_or_409(db, db.commit, NAME_TAKEN)
    return item


@router.post("", response_model=ItemPublic, status_code=status.HTTP_201_CREATED)
def create_item(body: ItemCreate, user: CurrentUser, db: SessionDep):
    item = Item(name=body.name, description=body.description, user_id=user.id)
    db.add(item)
    unique_or_409(db, db.flush, NAME_TAKEN)  # before the count's row is locked
    add_rows(db, "items", 1)
    return _save(db, item)


@router.get("", response_model=ItemsPage)
async def list_items(
    _user: CurrentUser,
    db: SessionDep,
    paging: PagingDep,
    name: Filter = None,
    description: Filter = None,
):
    """Every item, filtered by name and description substrings (case-insensitive)."""
    return await in_thread(db, _list_items, db, paging, name, description)


def _list_items(db: Session, paging: Paging, name: str | None, description: str | None):
    query = select(Item)
    if name is not None:
        query = query.where(contains(Item.name, name))
    if description is not None:
        query = query.where(contains(Item.description, description))
    # Unfiltered, the total is the count kept on write: COUNT(*) reads every row in InnoDB.
    total = total_rows(db, "items") if name is None and description is None else None
    total, items = paging.fetch(db, query, Item.id, total)
    return ItemsPage(page=paging.page, limit=paging.limit, total=total, items=items)


def _get_item(db: Session, item_id: int) -> Item:
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return item


def _owned_item(db: Session, user: User, item_id: int) -> Item:
    item = _get_item(db, item_id)
    if item.user_id != user.id and not user.is_admin:
        raise HTTPException(status_code=403, detail="Only the owner or an admin may change it")
    return item


@router.get("/{item_id}", response_model=ItemPublic)
async def read_item(item_id: ItemId, _user: CurrentUser, db: SessionDep):
    return await in_thread(db, _get_item, db, item_id)


@router.patch("/{item_id}", response_model=ItemPublic)
def update_item(item_id: ItemId, body: ItemUpdate, user: CurrentUser, db: SessionDep):
    item = _owned_item(db, user, item_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    item.updated_at = utcnow()
    return _save(db, item)


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: ItemId, user: CurrentUser, db: SessionDep) -> None:
    db.delete(_owned_item(db, user, item_id))
    add_rows(db, "items", -1)
    db.commit()
