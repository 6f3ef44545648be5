"""Checking a username and password, with throttling; shared by /auth/token and the docs."""

import ipaddress
import logging
from contextlib import suppress

from fastapi import HTTPException, Request

from fastapi_example.data import login_throttle, users
from fastapi_example.db import Database, DatabaseUnavailable, Row
from fastapi_example.metrics import Metrics
from fastapi_example.models import username_key
from fastapi_example.security import burn_verify_time, hash_password, hashing, verify_password
from fastapi_example.settings import Settings

log = logging.getLogger(__name__)


def client_address(request: Request) -> str:
    """The address logins are throttled by: the peer's, or the client's that a trusted proxy
    forwarded (uvicorn applies FORWARDED_ALLOW_IPS). An IPv6 client counts by its /64, the
    block one subscriber is given."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


async def authenticate(
    db: Database,
    username: str,
    password: str,
    address: str,
    settings: Settings,
    metrics: Metrics,
    challenge: dict[str, str],
) -> Row:
    """The active user with these credentials (its password hash as the check left it), or
    429/401/403 (with `challenge` headers)."""
    attempt = login_throttle.Attempt.of(username_key(username), address)
    wait = await login_throttle.take_place(db, attempt, settings)
    if wait:
        metrics.logins.labels("throttled").inc()
        log.warning("login throttled")
        raise HTTPException(
            status_code=429,
            detail="Too many failed logins, try again later",
            headers={"Retry-After": str(wait)},
        )
    try:
        user = await users.user_by_name(db, username)
    except DatabaseUnavailable:
        # No password was checked: the attempt gives its place back if the database lets
        # it, or a client retrying a 503 with the right password would be locked out.
        with suppress(DatabaseUnavailable):
            await login_throttle.withdraw(db, attempt)
        raise
    if user is None:
        await hashing(burn_verify_time, password)
        ok, new_hash = False, None
    else:
        ok, new_hash = await hashing(
            verify_password, password, user["hashed_password"], settings.password_pepper
        )
    incorrect = HTTPException(
        status_code=401, detail="Incorrect username or password", headers=challenge
    )
    if not ok:  # the attempt keeps its place in the counters
        metrics.logins.labels("failure").inc()
        log.info("login failed")
        raise incorrect
    await login_throttle.give_back(db, attempt)
    if not user["activated"]:
        metrics.logins.labels("failure").inc()
        raise HTTPException(status_code=403, detail="User is disabled")
    if new_hash:
        # A password set while this one was checked must stand: the one checked is then no
        # longer the user's, and writing its upgraded hash would bring it back.
        if not await users.upgrade_password_hash(db, user["id"], user["hashed_password"], new_hash):
            metrics.logins.labels("failure").inc()
            raise incorrect
        user["hashed_password"] = new_hash
    metrics.logins.labels("success").inc()
    return user


async def password_hash(password: str, settings: Settings) -> str:
    """Argon2: tens of milliseconds of CPU, on the hashing threads (security.hashing)."""
    return await hashing(hash_password, password, settings.password_pepper)
