"""Roles and versions: small, public lists."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from sqlmodel import Session, select

from fastapi_example.db import SessionDep, in_thread
from fastapi_example.models import MAX_ID, Role, RolePublic, Version, VersionPublic

roles = APIRouter(prefix="/roles", tags=["roles"])
versions = APIRouter(prefix="/versions", tags=["versions"])


def _all(db: Session, model) -> list:
    return list(db.exec(select(model).order_by(model.id)).all())


def _role(db: Session, role_id: int) -> Role:
    role = db.get(Role, role_id)
    if role is None:
        raise HTTPException(status_code=404, detail="Role not found")
    return role


@roles.get("", response_model=list[RolePublic])
async def list_roles(db: SessionDep):
    return await in_thread(db, _all, db, Role)


@roles.get("/{role_id}", response_model=RolePublic)
async def read_role(role_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: SessionDep):
    return await in_thread(db, _role, db, role_id)


@versions.get("", response_model=list[VersionPublic])
async def list_versions(db: SessionDep):
    """Every known client version and whether it is still supported (not version-checked)."""
    return await in_thread(db, _all, db, Version)
