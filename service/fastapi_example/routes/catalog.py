"""Roles and versions: small, public lists."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from sqlmodel import select

from fastapi_example.db import SessionDep
from fastapi_example.models import MAX_ID, Role, RolePublic, Version, VersionPublic

roles = APIRouter(prefix="/roles", tags=["roles"])
versions = APIRouter(prefix="/versions", tags=["versions"])


@roles.get("", response_model=list[RolePublic])
def list_roles(db: SessionDep):
    return db.exec(select(Role).order_by(Role.id)).all()


@roles.get("/{role_id}", response_model=RolePublic)
def read_role(role_id: Annotated[int, Path(ge=1, le=MAX_ID)], db: SessionDep):
    role = db.get(Role, role_id)
    if role is None:
        raise HTTPException(status_code=404, detail="Role not found")
    return role


@versions.get("", response_model=list[VersionPublic])
def list_versions(db: SessionDep):
    """Every known client version and whether it is still supported (not version-checked)."""
    return db.exec(select(Version).order_by(Version.id)).all()
