"""Checking a username and password, with throttling; shared by /auth/token and the docs."""

import logging

from fastapi import HTTPException
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from fastapi_example.metrics import Metrics
from fastapi_example.models import User
from fastapi_example.security import burn_verify_time, hash_password, hashing, verify_password
from fastapi_example.sessions import clear_failures, record_failure, throttled_for
from fastapi_example.settings import Settings

log = logging.getLogger(__name__)


async def authenticate(
    db: AsyncSession,
    username: str,
    password: str,
    settings: Settings,
    metrics: Metrics,
    challenge: dict[str, str],
) -> User:
    """The active user with these credentials, or 429/401/403 (with `challenge` headers)."""
    wait = await throttled_for(db, username, settings)
    if wait:
        metrics.logins.labels("throttled").inc()
        log.warning("login throttled")
        raise HTTPException(
            status_code=429,
            detail="Too many failed logins, try again later",
            headers={"Retry-After": str(wait)},
        )
    user = (await db.exec(select(User).where(User.username == username))).first()
    if user is not None and user.username != username:  # MySQL's PAD SPACE: "admin " matched
        user = None
    if user is None:
        await hashing(burn_verify_time, password)
        ok, new_hash = False, None
    else:
        ok, new_hash = await hashing(
            verify_password, password, user.hashed_password, settings.password_pepper
        )
    if not ok:
        await record_failure(db, username, settings)
        metrics.logins.labels("failure").inc()
        log.info("login failed")
        raise HTTPException(
            status_code=401, detail="Incorrect username or password", headers=challenge
        )
    if not user.activated:
        metrics.logins.labels("failure").inc()
        raise HTTPException(status_code=403, detail="User is disabled")
    if new_hash:
        user.hashed_password = new_hash
        db.add(user)
    await clear_failures(db, username)
    metrics.logins.labels("success").inc()
    return user


def set_password(user: User, password: str, settings: Settings) -> None:
    """Argon2: tens of milliseconds of CPU; requests call it through `security.hashing`."""
    user.hashed_password = hash_password(password, settings.password_pepper)
