"""The roles and versions tables, cached in-process, and the X-Version check.

Both tables are tiny and change only through `migrate`, so every request reads a copy at
most VERSIONS_CACHE_SECONDS old instead of querying: the check costs nothing per request and
GET /roles and /versions need no database round trip.
"""

import asyncio
import time
from typing import Annotated

from fastapi import Header, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from fastapi_example.models import Role, RolePublic, Version, VersionPublic


class CatalogCache:
    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine, self._ttl = engine, ttl
        self.roles: list[RolePublic] = []
        self.versions: list[VersionPublic] = []
        self._supported: dict[str, bool] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._ttl

    async def fresh(self) -> "CatalogCache":
        """The cache, first reloaded from the database if older than the TTL."""
        if self.stale:
            async with self._lock:  # one reload at a time; the others then find it fresh
                if self.stale:
                    async with AsyncSession(self._engine) as session:
                        roles = (await session.exec(select(Role).order_by(Role.id))).all()
                        versions = (await session.exec(select(Version).order_by(Version.id))).all()
                    self.roles = [RolePublic.model_validate(r, from_attributes=True) for r in roles]
                    self.versions = [
                        VersionPublic.model_validate(v, from_attributes=True) for v in versions
                    ]
                    self._supported = {v.version: v.supported for v in self.versions}
                    self._loaded_at = time.monotonic()
        return self

    def supported(self, version: str) -> bool | None:
        """True supported, False unsupported, None unknown (as of the last refresh)."""
        return self._supported.get(version)

    def latest_supported(self) -> str | None:
        supported = [v for v, ok in self._supported.items() if ok]
        return max(supported, key=_version_key, default=None)


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


async def get_catalog(request: Request) -> CatalogCache:
    return await request.app.state.catalog.fresh()


async def check_version(
    request: Request,
    x_version: Annotated[
        str, Header(max_length=20, description="The client's version; absent means current")
    ] = "",
) -> None:
    if not x_version:  # absent or empty: allowed
        return
    catalog = await get_catalog(request)
    supported = catalog.supported(x_version)
    if supported:
        return
    reason = "unknown" if supported is None else "unsupported"
    request.app.state.metrics.version_rejections.labels(reason).inc()
    raise HTTPException(
        status_code=426,
        detail="Version not supported anymore" if reason == "unsupported" else "Unknown version",
        headers={"Upgrade": f"X-Version/{catalog.latest_supported() or 'latest'}"},
    )
