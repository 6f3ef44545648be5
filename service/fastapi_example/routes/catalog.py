"""Roles and versions: small, public lists, served from the in-process catalog cache."""

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Response

from fastapi_example.models import MAX_ID, RolePublic, VersionPublic
from fastapi_example.routes import PrefixedRouter
from fastapi_example.versions import CatalogCache, VersionedRoute, get_catalog

roles = PrefixedRouter(prefix="/roles", tags=["roles"], route_class=VersionedRoute)
versions = PrefixedRouter(prefix="/versions", tags=["versions"])
Catalog = Annotated[CatalogCache, Depends(get_catalog)]


def _json(body: bytes) -> Response:
    """A list as the catalog serialized it at its last refresh (response_model documents it)."""
    return Response(body, media_type="application/json")


@roles.get("", response_model=list[RolePublic])
async def list_roles(catalog: Catalog):
    return _json(catalog.roles_json)


@roles.get("/{role_id}", response_model=RolePublic)
async def read_role(role_id: Annotated[int, Path(ge=1, le=MAX_ID)], catalog: Catalog):
    for role in catalog.roles:
        if role.id == role_id:
            return role
    raise HTTPException(status_code=404, detail="Role not found")


@versions.get("", response_model=list[VersionPublic])
async def list_versions(catalog: Catalog):
    """Every known client version and whether it is still supported (not version-checked)."""
    return _json(catalog.versions_json)
