"""Roles and versions: small, public lists, served from the in-process catalog cache.

The routes take their Request rather than a dependency for the catalog (db.database).
"""

from typing import Annotated

from fastapi import HTTPException, Path, Request, Response

from fastapi_example.models import MAX_ID, RolePublic, VersionPublic
from fastapi_example.routes import PrefixedRouter
from fastapi_example.versions import VersionedRoute, get_catalog

roles = PrefixedRouter(prefix="/roles", tags=["roles"], route_class=VersionedRoute)
versions = PrefixedRouter(prefix="/versions", tags=["versions"])


def _json(body: bytes) -> Response:
    """A list as the catalog serialized it at its last refresh (response_model documents it)."""
    return Response(body, media_type="application/json")


@roles.get("", response_model=list[RolePublic])
async def list_roles(request: Request):
    return _json((await get_catalog(request)).roles_json)


@roles.get("/{role_id}", response_model=RolePublic)
async def read_role(role_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request):
    for role in (await get_catalog(request)).roles:
        if role.id == role_id:
            return role
    raise HTTPException(status_code=404, detail="Role not found")


@versions.get("", response_model=list[VersionPublic])
async def list_versions(request: Request):
    """Every known client version and whether it is still supported (not version-checked)."""
    return _json((await get_catalog(request)).versions_json)
