"""Checking a username and password, with throttling; shared by /auth/token and the docs."""

import logging

from fastapi import HTTPException

from fastapi_example.data import login_failures, users
from fastapi_example.db import Database, Row
from fastapi_example.metrics import Metrics
from fastapi_example.security import burn_verify_time, hash_password, hashing, verify_password
from fastapi_example.settings import Settings

log = logging.getLogger(__name__)


async def authenticate(
    db: Database,
    username: str,
    password: str,
    settings: Settings,
    metrics: Metrics,
    challenge: dict[str, str],
) -> Row:
    """The active user with these credentials, or 429/401/403 (with `challenge` headers)."""
    wait = await login_failures.throttled_for(db, username, settings)
    if wait:
        metrics.logins.labels("throttled").inc()
        log.warning("login throttled")
        raise HTTPException(
            status_code=429,
            detail="Too many failed logins, try again later",
            headers={"Retry-After": str(wait)},
        )
    user = await users.user_by_name(db, username)
    if user is None:
        await hashing(burn_verify_time, password)
        ok, new_hash = False, None
    else:
        ok, new_hash = await hashing(
            verify_password, password, user["hashed_password"], settings.password_pepper
        )
    if not ok:
        await login_failures.record_failure(db, username, settings)
        metrics.logins.labels("failure").inc()
        log.info("login failed")
        raise HTTPException(
            status_code=401, detail="Incorrect username or password", headers=challenge
        )
    if not user["activated"]:
        metrics.logins.labels("failure").inc()
        raise HTTPException(status_code=403, detail="User is disabled")
    if new_hash:
        await users.set_password_hash(db, user["id"], new_hash)
    await login_failures.clear_failures(db, username)
    metrics.logins.labels("success").inc()
    return user


async def password_hash(password: str, settings: Settings) -> str:
    """Argon2: tens of milliseconds of CPU, on the hashing threads (security.hashing)."""
    return await hashing(hash_password, password, settings.password_pepper)
