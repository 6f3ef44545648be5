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
        self._reload: asyncio.Task | None = None

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._ttl

    async def fresh(self) -> "CatalogCache":
        """The cache, first reloaded from the database if older than the TTL.

        Requests that find it stale while a reload runs wait for that same reload and share
        its outcome: a database that does not answer fails them all at once (503), not one
        after another as each took its turn to try again. A request that gives up leaves the
        reload running for the others."""
        if self.stale:
            if self._reload is None:
                self._reload = asyncio.create_task(self._load())
                self._reload.add_done_callback(self._reloaded)
            await asyncio.shield(self._reload)
        return self

    async def _load(self) -> None:
        roles = await catalog.roles(self._db)
        versions = await catalog.versions(self._db)
        self.roles, self.versions = roles, versions
        self.roles_json = ROLES.dump_json(roles)
        self.versions_json = VERSIONS.dump_json(versions)
        self._supported = {v.version: v.supported for v in versions}
        self._loaded_at = time.monotonic()

    def _reloaded(self, task: asyncio.Task) -> None:
        self._reload = None
        if not task.cancelled():
            task.exception()  # marked retrieved: the waiting requests raised it, if any waited

    def supported(self, version: str) -> bool | None:
        """True supported, False unsupported, None unknown (as of the last refresh)."""
        return self._supported.get(version)

    def latest_supported(self) -> str | None:
        supported = [v for v, ok in self._supported.items() if ok]
        return max(supported, key=_version_key, default=None)


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))
