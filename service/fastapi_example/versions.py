"""The X-Version check, with the versions table cached in-process for a few seconds."""

import threading
import time
from typing import Annotated

from fastapi import Header, HTTPException, Request
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from fastapi_example.models import Version


class VersionCache:
    def __init__(self, engine: Engine, ttl: float) -> None:
        self._engine, self._ttl = engine, ttl
        self._versions: dict[str, bool] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._ttl

    def refresh(self) -> None:
        """Reload the table if the copy is older than the TTL (a query: call it off the loop)."""
        if self.stale:
            with self._lock:
                if self.stale:
                    with Session(self._engine) as session:
                        rows = session.exec(select(Version.version, Version.supported)).all()
                    self._versions = dict(rows)
                    self._loaded_at = time.monotonic()

    def cached(self, version: str) -> bool | None:
        """True supported, False unsupported, None unknown (as of the last refresh)."""
        return self._versions.get(version)

    def lookup(self, version: str) -> bool | None:
        self.refresh()
        return self.cached(version)

    def latest_supported(self) -> str | None:
        supported = [v for v, ok in self._versions.items() if ok]
        return max(supported, key=_version_key, default=None)


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


async def check_version(
    request: Request,
    x_version: Annotated[
        str | None,
        Header(max_length=20, description="The client's version; absent means current"),
    ] = None,
) -> None:
    if not x_version:  # absent or empty: allowed
        return
    cache = request.app.state.version_cache
    if cache.stale:  # only then a query, in the threadpool; otherwise no thread hop at all
        await run_in_threadpool(cache.refresh)
    supported = cache.cached(x_version)
    if supported:
        return
    reason = "unknown" if supported is None else "unsupported"
    request.app.state.metrics.version_rejections.labels(reason).inc()
    raise HTTPException(
        status_code=426,
        detail="Version not supported anymore" if reason == "unsupported" else "Unknown version",
        headers={"Upgrade": f"X-Version/{cache.latest_supported() or 'latest'}"},
    )
