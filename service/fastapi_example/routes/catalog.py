"""Roles and versions: small public lists, answered from the in-process catalog cache."""

from fastapi import HTTPException, Request, Response

from fastapi_example.deps import CatalogDep, VersionChecked, get_catalog
from fastapi_example.models import Id, RolePublic, VersionPublic
from fastapi_example.routes import PrefixedRouter

roles = PrefixedRouter(prefix="/roles", tags=["roles"], dependencies=[VersionChecked])
versions = PrefixedRouter(prefix="/versions", tags=["versions"])


def _json(body: bytes) -> Response:
    """A list as the catalog serialized it at its last refresh: the response model's JSON.

    The lists take their Request and call get_catalog themselves: they are the cheapest
    routes, and a dependency would cost them more than the rest of their work
    (docs/decisions/0005-catalog-lists.md).
    """
    return Response(body, media_type="application/json")


@roles.get("", response_model=list[RolePublic])
async def list_roles(request: Request) -> Response:
    return _json((await get_catalog(request)).roles_json)


@roles.get("/{role_id}", response_model=RolePublic)
async def read_role(role_id: Id, catalog: CatalogDep):
    for role in catalog.roles:
        if role.id == role_id:
            return role
    raise HTTPException(status_code=404, detail="Role not found")


@versions.get("", response_model=list[VersionPublic])
async def list_versions(request: Request) -> Response:
    """Every known client version and whether it is still supported (not version-checked)."""
    return _json((await get_catalog(request)).versions_json)
