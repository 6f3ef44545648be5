"""Roles and versions: small, public lists, served from the in-process catalog cache.

The routes take their Request rather than a dependency for the catalog (db.database).
"""

from fastapi import HTTPException, Request, Response

from fastapi_example.direct import DirectRoute
from fastapi_example.models import Id, RolePublic, VersionPublic
from fastapi_example.params import InPath
from fastapi_example.routes import PrefixedRouter
from fastapi_example.versions import VersionedRoute, get_catalog

roles = PrefixedRouter(prefix="/roles", tags=["roles"], route_class=VersionedRoute)
versions = PrefixedRouter(prefix="/versions", tags=["versions"], route_class=DirectRoute)


def _json(body: bytes) -> Response:
    """A list as the catalog serialized it at its last refresh (response_model documents it)."""
    return Response(body, media_type="application/json")


@roles.get("", response_model=list[RolePublic])
async def list_roles(request: Request) -> Response:
    return _json((await get_catalog(request)).roles_json)


class RolePath(InPath):
    role_id: Id


@roles.get("/{role_id}", response_model=RolePublic, openapi_extra=RolePath.documented())
async def read_role(request: Request):
    role_id = RolePath.of(request).role_id
    for role in (await get_catalog(request)).roles:
        if role.id == role_id:
            return role
    raise HTTPException(status_code=404, detail="Role not found")


@versions.get("", response_model=list[VersionPublic])
async def list_versions(request: Request) -> Response:
    """Every known client version and whether it is still supported (not version-checked)."""
    return _json((await get_catalog(request)).versions_json)
