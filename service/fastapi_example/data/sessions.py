"""Sessions (one tokens row per device): the caller of a token, open, rotate, end, revoke.

The database keeps only the SHA-256 digests of the tokens (security.token_digest).
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi_example.db import Connection, Database, Row, retry_on_deadlock
from fastapi_example.models import TokenPair, utcnow
from fastapi_example.security import new_token, token_digest
from fastapi_example.settings import Settings


async def caller_of_access_token(db: Database, digest: str) -> Row | None:
    """The active user of a live access token, with UserPublic's fields and the session's id."""
    row = await db.fetch_one(
        "SELECT u.username, u.id, u.role_id, u.activated, u.created_at, u.updated_at,"
        " t.id AS session_id, t.access_expires_at"
        " FROM tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.access_token_hash = ?",
        digest,
    )
    if row is None or not row["activated"] or row.pop("access_expires_at") <= utcnow():
        return None
    row["activated"] = True
    return row


def _successors(refresh_token: str, salt: str) -> tuple[str, str]:
    """The access and refresh tokens a rotation gives for a refresh token: keyed by that
    token (which the database does not hold) and a random salt (which it does), so the same
    exchange can be answered again within the grace period and nobody holding only one of
    the two can work them out."""
    key = refresh_token.encode("utf-8", "surrogatepass")
    return tuple(  # type: ignore[return-value]
        base64.urlsafe_b64encode(hmac.digest(key, f"{salt}:{use}".encode(), hashlib.sha256))
        .rstrip(b"=")
        .decode()
        for use in ("access", "refresh")
    )


def _issue(
    user_id: int, settings: Settings, now: datetime, tokens: tuple[str, str] | None = None
) -> tuple[TokenPair, dict[str, Any]]:
    """A pair of tokens for a session (new random ones unless given), and the columns that
    keep only their digests."""
    access, refresh = tokens or (new_token(), new_token())
    columns = {
        "access_token_hash": token_digest(access),
        "access_expires_at": now + timedelta(minutes=settings.access_token_minutes),
        "refresh_token_hash": token_digest(refresh),
        "refresh_expires_at": now + timedelta(days=settings.refresh_token_days),
    }
    pair = TokenPair(
        id=user_id,
        access_token=access,
        expires=settings.access_token_minutes * 60,
        refresh_token=refresh,
    )
    return pair, columns


async def open_session(
    db: Database, user_id: int, password_hash: str, settings: Settings
) -> TokenPair | None:
    return await retry_on_deadlock(_open_session, db, user_id, password_hash, settings)


async def _open_session(
    db: Database, user_id: int, password_hash: str, settings: Settings
) -> TokenPair | None:
    """A new session for a user whose password was checked against `password_hash`; None
    when the account changed since (disabled, or its password reset: the change ended the
    sessions it found, and this one must not outlive it). Expired sessions and the oldest
    beyond max_sessions_per_user go.

    The user's row is locked first, so concurrent logins of one user, and changes of it,
    queue up here; the sessions are then read with a locking read (it sees what the logins
    before committed) and deleted by primary key, which locks no ranges that other users'
    logins need.
    """
    async with db.transaction() as tx:
        user = await tx.fetch_one(
            "SELECT activated, hashed_password FROM users WHERE id = ? FOR UPDATE", user_id
        )
        if user is None or not user["activated"] or user["hashed_password"] != password_hash:
            return None
        now = utcnow()
        sessions = await tx.fetch_all(
            "SELECT id, refresh_expires_at FROM tokens WHERE user_id = ?"
            " ORDER BY created_at DESC, id DESC FOR UPDATE",
            user_id,
        )
        live = [s["id"] for s in sessions if s["refresh_expires_at"] > now]
        keep = set(live[: max(settings.max_sessions_per_user - 1, 0)])
        for session in sessions:
            if session["id"] not in keep:
                await tx.execute("DELETE FROM tokens WHERE id = ?", session["id"])
        pair, columns = _issue(user_id, settings, now)
        await tx.insert(
            "INSERT INTO tokens (user_id, access_token_hash, access_expires_at,"
            " refresh_token_hash, refresh_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            user_id,
            *columns.values(),
            now,
        )
    return pair


async def rotate_session(db: Database, refresh_token: str, settings: Settings) -> TokenPair | None:
    return await retry_on_deadlock(_rotate_session, db, refresh_token, settings)


async def _rotate_session(db: Database, refresh_token: str, settings: Settings) -> TokenPair | None:
    """New tokens for a live refresh token; a reused (already rotated) one gets the same
    new tokens again within the grace period, and ends its session after it."""
    digest = token_digest(refresh_token)
    async with db.transaction() as tx:
        session = await tx.fetch_one(
            # Only the session's row is locked: the user's activation is read in a
            # subquery, which a locking read leaves unlocked (MySQL, MariaDB). A change of
            # the user locks its users row and then its tokens rows; a refresh locking them
            # the other way round could deadlock with it.
            "SELECT id, user_id, refresh_expires_at,"
            " (SELECT u.activated FROM users u WHERE u.id = t.user_id) AS activated"
            " FROM tokens t WHERE refresh_token_hash = ? FOR UPDATE",
            digest,
        )
        if session is None:
            return await _exchanged_again(tx, refresh_token, digest, settings)
        now = utcnow()
        if session["refresh_expires_at"] <= now or not session["activated"]:
            return None
        salt = secrets.token_hex(16)
        await tx.insert(
            "INSERT INTO rotated_refresh_tokens (refresh_token_hash, token_id, expires_at,"
            " rotated_at, salt) VALUES (?, ?, ?, ?, ?)",
            digest,
            session["id"],
            session["refresh_expires_at"],
            now,
            salt,
        )
        tokens = _successors(refresh_token, salt)
        pair, columns = _issue(session["user_id"], settings, now, tokens)
        await tx.execute(
            "UPDATE tokens SET access_token_hash = ?, access_expires_at = ?,"
            " refresh_token_hash = ?, refresh_expires_at = ? WHERE id = ?",
            *columns.values(),
            session["id"],
        )
    return pair


async def _exchanged_again(
    tx: Connection, refresh_token: str, digest: str, settings: Settings
) -> TokenPair | None:
    """A refresh token already exchanged. Within REFRESH_GRACE_SECONDS of its exchange, when
    that exchange was the session's last, it gets the same new tokens again (a client's
    retry, two tabs refreshing at once); otherwise it ends its session (a thief may hold it,
    or the thief used it first)."""
    # Its session's row is locked before its rotated rows, as a deletion of the session
    # locks them (_rotate_session says why the user's row is not).
    reused = await tx.fetch_one(
        "SELECT token_id, rotated_at, salt FROM rotated_refresh_tokens"
        " WHERE refresh_token_hash = ?",
        digest,
    )
    if reused is None:
        return None
    session = await tx.fetch_one(
        "SELECT user_id, refresh_token_hash, refresh_expires_at,"
        " (SELECT u.activated FROM users u WHERE u.id = t.user_id) AS activated"
        " FROM tokens t WHERE id = ? FOR UPDATE",
        reused["token_id"],
    )
    if session is None:  # ended meanwhile
        return None
    now = utcnow()
    grace = timedelta(seconds=settings.refresh_grace_seconds)
    if reused["salt"] and reused["rotated_at"] + grace > now and session["activated"]:
        tokens = _successors(refresh_token, reused["salt"])
        still_current = token_digest(tokens[1]) == session["refresh_token_hash"]
        if still_current and session["refresh_expires_at"] > now:
            return _issue(session["user_id"], settings, now, tokens)[0]
    # Its rotated digests go with it (ON DELETE CASCADE).
    await tx.execute("DELETE FROM tokens WHERE id = ?", reused["token_id"])
    return None


async def end_session(db: Database, session_id: int) -> None:
    await db.execute("DELETE FROM tokens WHERE id = ?", session_id)


async def revoke_sessions(tx: Connection, user_id: int, keep_id: int | None = None) -> None:
    """End every session of a user (but keep_id), in the caller's transaction."""
    if keep_id is None:
        await tx.execute("DELETE FROM tokens WHERE user_id = ?", user_id)
    else:
        await tx.execute("DELETE FROM tokens WHERE user_id = ? AND id <> ?", user_id, keep_id)
