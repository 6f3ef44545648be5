"""The roles and versions tables, cached in-process, and the X-Version check.

Both tables are tiny and change only through `migrate`, so every request reads a copy at
most VERSIONS_CACHE_SECONDS old instead of querying: the check costs nothing per request and
GET /roles and /versions need no database round trip. Their answers' JSON is made once per
refresh too: serializing the list per request was a tenth of GET /roles's instructions.
"""

import asyncio
import time
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request, Response
from pydantic import TypeAdapter
from sqlalchemy import select

from fastapi_example.direct import DirectRoute
from fastapi_example.driver import Prepared
from fastapi_example.models import MAX_VERSION_LENGTH, Role, RolePublic, Version, VersionPublic
from fastapi_example.rows import public_columns, to_public

if TYPE_CHECKING:
    from fastapi_example.db import Database


_ROLES = Prepared(select(*public_columns(RolePublic, Role)).order_by(Role.id))
_VERSIONS = Prepared(select(*public_columns(VersionPublic, Version)).order_by(Version.id))
_ROLE_LIST, _VERSION_LIST = TypeAdapter(list[RolePublic]), TypeAdapter(list[VersionPublic])


class CatalogCache:
    def __init__(self, db: "Database", ttl: float) -> None:
        self._db, self._ttl = db, ttl
        self.roles: list[RolePublic] = []
        self.versions: list[VersionPublic] = []
        self.roles_json = self.versions_json = b"[]"  # the lists as their routes answer them
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
                    # Outside the reader's gate: the pool's overflow is the refresh's.
                    roles = await self._db.rows(_ROLES, {}, gated=False)
                    versions = await self._db.rows(_VERSIONS, {}, gated=False)
                    self.roles = [to_public(RolePublic, row) for row in roles]
                    self.versions = [to_public(VersionPublic, row) for row in versions]
                    self.roles_json = _ROLE_LIST.dump_json(self.roles)
                    self.versions_json = _VERSION_LIST.dump_json(self.versions)
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
    """The app's catalog, reloaded first when stale (no coroutine of its own when fresh)."""
    catalog = request.app.state.catalog
    return await catalog.fresh() if catalog.stale else catalog


_DESCRIPTION = "The client's version; absent means current"
# The header as a `Header()` parameter would document it, added to each versioned operation.
X_VERSION_PARAMETER = {
    "name": "x-version",
    "in": "header",
    "required": False,
    "schema": {
        "type": "string",
        "maxLength": MAX_VERSION_LENGTH,
        "description": _DESCRIPTION,
        "default": "",
        "title": "X-Version",
    },
    "description": _DESCRIPTION,
}


class VersionedRoute(DirectRoute):
    """A route whose requests pass the X-Version check before anything else (426).

    The check was a router dependency: FastAPI solving it and validating its header took a
    sixth of GET /roles's instructions. Here it is one header lookup before the handler.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        extra = dict(self.openapi_extra or {})
        extra["parameters"] = [*extra.get("parameters", []), X_VERSION_PARAMETER]
        self.openapi_extra = extra

    def around(self, handler):
        async def versioned(request: Request) -> Response:
            x_version = request.headers.get("x-version")
            if x_version:  # absent or empty: allowed
                await check_version(request, x_version)
            return await handler(request)

        return versioned


async def check_version(request: Request, x_version: str) -> None:
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
