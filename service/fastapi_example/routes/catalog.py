"""Roles and versions: small public lists, answered from the in-process catalog cache."""

from fastapi import APIRouter, HTTPException

from fastapi_example.deps import CatalogDep, VersionChecked
from fastapi_example.models import Id, RolePublic, VersionPublic

roles = APIRouter(prefix="/roles", tags=["roles"], dependencies=[VersionChecked])
versions = APIRouter(prefix="/versions", tags=["versions"])


@roles.get("", response_model=list[RolePublic])
async def list_roles(catalog: CatalogDep):
    return catalog.roles


@roles.get("/{role_id}", response_model=RolePublic)
async def read_role(role_id: Id, catalog: CatalogDep):
    for role in catalog.roles:
        if role.id == role_id:
            return role
    raise HTTPException(status_code=404, detail="Role not found")


@versions.get("", response_model=list[VersionPublic])
async def list_versions(catalog: CatalogDep):
    """Every known client version and whether it is still supported (not version-checked)."""
    return catalog.versions
