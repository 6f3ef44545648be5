"""Sessions (one tokens row per device): open, rotate, revoke; and login throttling."""

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from fastapi_example.db import Transaction
from fastapi_example.driver import Prepared
from fastapi_example.models import LoginFailure, RotatedRefreshToken, Token, TokenPair, User, utcnow
from fastapi_example.security import new_token, token_digest
from fastapi_example.settings import Settings


def _issue(user_id: int, settings: Settings) -> tuple[TokenPair, dict[str, Any]]:
    """A fresh pair of tokens for a session, and the columns that keep only their digests."""
    access, refresh = new_token(), new_token()
    now = utcnow()
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


async def open_session(db: AsyncSession, user: User, settings: Settings) -> TokenPair:
    """A new session; expired ones and the oldest beyond max_sessions_per_user go.

    The user's row is locked first, so concurrent logins of one user queue up here; their
    sessions are then read with a locking read (it sees what the logins before committed)
    and deleted by primary key, which locks no ranges that other users' logins need.
    """
    (await db.exec(select(User.id).where(User.id == user.id).with_for_update())).one()
    now = utcnow()
    sessions = (
        await db.exec(
            select(Token.id, Token.refresh_expires_at)
            .where(Token.user_id == user.id)
            .order_by(Token.created_at.desc(), Token.id.desc())
            .with_for_update()
        )
    ).all()
    live = [token_id for token_id, expires in sessions if expires > now]
    keep = set(live[: max(settings.max_sessions_per_user - 1, 0)])
    ended = [token_id for token_id, _ in sessions if token_id not in keep]
    if ended:
        await db.exec(delete(Token).where(Token.id.in_(ended)))
    pair, columns = _issue(user.id, settings)
    db.add(Token(user_id=user.id, created_at=now, **columns))
    await db.commit()
    return pair


# A refresh's statements, built once: Core in a Database.transaction, not the ORM (db.py).
_SESSION_BY_REFRESH_TOKEN = Prepared(
    select(Token.id, Token.user_id, Token.refresh_expires_at, User.activated)
    .join_from(Token, User, User.id == Token.user_id)
    .where(Token.refresh_token_hash == bindparam("digest"))
    .with_for_update()
)
_ROTATED = Prepared(
    select(RotatedRefreshToken.token_id).where(
        RotatedRefreshToken.refresh_token_hash == bindparam("digest")
    )
)
_KEEP_ROTATED = Prepared(
    insert(RotatedRefreshToken).values(
        refresh_token_hash=bindparam("digest"),
        token_id=bindparam("session_id"),
        expires_at=bindparam("expires_at"),
    )
)
_NEW_TOKENS = Prepared(
    update(Token)
    .where(Token.id == bindparam("session_id"))
    .values(
        access_token_hash=bindparam("new_access_token_hash"),
        access_expires_at=bindparam("new_access_expires_at"),
        refresh_token_hash=bindparam("new_refresh_token_hash"),
        refresh_expires_at=bindparam("new_refresh_expires_at"),
    )
)
END_SESSION = Prepared(delete(Token).where(Token.id == bindparam("session_id")))


async def rotate_session(
    db: Transaction, refresh_token: str, settings: Settings
) -> TokenPair | None:
    """New tokens for a live refresh token; a reused (already rotated) one ends its session."""
    digest = token_digest(refresh_token)
    rows = await db.rows(_SESSION_BY_REFRESH_TOKEN, {"digest": digest})
    if not rows:
        reused = await db.rows(_ROTATED, {"digest": digest})
        if reused:
            # Its rotated digests go with it (ON DELETE CASCADE).
            await db.execute(END_SESSION, {"session_id": reused[0]["token_id"]})
            await db.commit()
        return None
    session = rows[0]
    if session["refresh_expires_at"] <= utcnow() or not session["activated"]:
        return None
    kept = {"digest": digest, "session_id": session["id"]}
    await db.insert(_KEEP_ROTATED, {**kept, "expires_at": session["refresh_expires_at"]})
    pair, columns = _issue(session["user_id"], settings)
    new = {f"new_{column}": value for column, value in columns.items()}
    await db.execute(_NEW_TOKENS, {"session_id": session["id"], **new})
    await db.commit()
    return pair


async def revoke_sessions(db: AsyncSession, user_id: int, keep_id: int | None = None) -> None:
    """End every session of a user (but keep_id); the caller commits."""
    query = delete(Token).where(Token.user_id == user_id)
    if keep_id is not None:
        query = query.where(Token.id != keep_id)
    await db.exec(query)


async def throttled_for(db: AsyncSession, username: str, settings: Settings) -> int:
    """Seconds until this username may try again (0: now)."""
    window = timedelta(seconds=settings.login_window_seconds)
    since = utcnow() - window
    query = select(func.count(), func.min(LoginFailure.failed_at)).where(
        LoginFailure.username == username, LoginFailure.failed_at > since
    )
    count, oldest = (await db.exec(query)).one()
    if count < settings.login_max_failures:
        return 0
    return max(int((oldest + window - utcnow()).total_seconds()) + 1, 1)


async def record_failure(db: AsyncSession, username: str, settings: Settings) -> None:
    # Old failures of this name are no longer needed: prune them while we are here.
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    await db.exec(
        delete(LoginFailure).where(
            LoginFailure.username == username, LoginFailure.failed_at <= since
        )
    )
    db.add(LoginFailure(username=username))
    await db.commit()


async def clear_failures(db: AsyncSession, username: str) -> None:
    await db.exec(delete(LoginFailure).where(LoginFailure.username == username))
