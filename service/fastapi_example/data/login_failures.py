"""Failed logins per username, for throttling (login.authenticate)."""

from datetime import timedelta

from fastapi_example.db import Database
from fastapi_example.models import utcnow
from fastapi_example.settings import Settings


async def throttled_for(db: Database, username: str, settings: Settings) -> int:
    """Seconds until this username may try again (0: now)."""
    window = timedelta(seconds=settings.login_window_seconds)
    failures = await db.fetch_all(
        "SELECT failed_at FROM login_failures WHERE username = ? AND failed_at > ?"
        " ORDER BY failed_at",
        username,
        utcnow() - window,
    )
    if len(failures) < settings.login_max_failures:
        return 0
    oldest = failures[0]["failed_at"]
    return max(int((oldest + window - utcnow()).total_seconds()) + 1, 1)


async def record_failure(db: Database, username: str, settings: Settings) -> None:
    now = utcnow()
    async with db.transaction() as tx:
        # Old failures of this name are no longer needed: prune them while we are here.
        await tx.execute(
            "DELETE FROM login_failures WHERE username = ? AND failed_at <= ?",
            username,
            now - timedelta(seconds=settings.login_window_seconds),
        )
        await tx.insert(
            "INSERT INTO login_failures (username, failed_at) VALUES (?, ?)", username, now
        )


async def clear_failures(db: Database, username: str) -> None:
    await db.execute("DELETE FROM login_failures WHERE username = ?", username)
