"""Roles and versions: read whole, for the in-process catalog (catalog.CatalogCache)."""

from fastapi_example.db import Database
from fastapi_example.models import RolePublic, VersionPublic


async def roles(db: Database) -> list[RolePublic]:
    rows = await db.fetch_all("SELECT id, name FROM roles ORDER BY id")
    return [RolePublic.model_validate(row) for row in rows]


async def versions(db: Database) -> list[VersionPublic]:
    rows = await db.fetch_all("SELECT id, version, supported FROM versions ORDER BY id")
    return [VersionPublic.model_validate(row) for row in rows]


async def role_exists(db: Database, role_id: int) -> bool:
    return await db.fetch_one("SELECT id FROM roles WHERE id = ?", role_id) is not None
