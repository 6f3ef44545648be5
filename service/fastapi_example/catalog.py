"""The roles and versions tables, cached in-process.

Both are tiny and change only through `migrate`, so requests read a copy at most
VERSIONS_CACHE_SECONDS old instead of the database: the X-Version check costs no query, and
GET /roles and /versions no round trip: their JSON is made once per refresh.
"""

import asyncio
import time

from pydantic import TypeAdapter

from fastapi_example.data import catalog
from fastapi_example.db import Database
from fastapi_example.models import RolePublic, VersionPublic

ROLES, VERSIONS = TypeAdapter(list[RolePublic]), TypeAdapter(list[VersionPublic])


class CatalogCache:
    def __init__(self, db: Database, ttl: float) -> None:
        self._db, self._ttl = db, ttl
        self.roles: list[RolePublic] = []
        self.versions: list[VersionPublic] = []
        # The lists as their routes answer them, serialized once per refresh.
        self.roles_json = self.versions_json = b"[]"
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
                    self.roles = await catalog.roles(self._db)
                    self.versions = await catalog.versions(self._db)
                    self.roles_json = ROLES.dump_json(self.roles)
                    self.versions_json = VERSIONS.dump_json(self.versions)
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
