"""Delete sessions whose refresh token has expired, rotated digests past their expiry, and
login-throttle counters whose window has passed (a flood of unknown usernames leaves one per
name behind).

All three go in bounded batches, each its own short transaction (keys first, then a delete by
primary key), so the job never holds locks for long. After each batch the job pauses for
TOKEN_CLEANUP_PAUSE_RATIO times as long as the batch took, leaving the database to the API
in between (benchmarks/ measures the API's p99 while the job runs).
"""

import logging
import time
from datetime import timedelta

from sqlalchemy import ColumnElement, Engine, delete
from sqlmodel import Session, SQLModel, select

from fastapi_example.models import LoginThrottle, RotatedRefreshToken, Token, utcnow

log = logging.getLogger(__name__)


class _Batches:
    def __init__(self, engine: Engine, size: int, pause_ratio: float) -> None:
        self.engine, self.size, self.pause_ratio = engine, size, pause_ratio
        self.count = self.largest = 0

    def delete(self, key, expired: ColumnElement[bool]) -> int:
        """Delete the rows of `key`'s table matching `expired`, batch by batch; how many."""
        table: type[SQLModel] = key.class_
        deleted = 0
        while True:
            started = time.monotonic()
            with Session(self.engine) as session:
                keys = session.exec(select(key).where(expired).order_by(key).limit(self.size))
                keys = keys.all()
                if not keys:
                    return deleted
                # Checked again: a row can change after its key was read (a failed login
                # restarts its counter's window), and then it is no longer to go.
                session.exec(delete(table).where(key.in_(keys), expired))
                session.commit()
            deleted += len(keys)
            self.count += 1
            self.largest = max(self.largest, len(keys))
            time.sleep((time.monotonic() - started) * self.pause_ratio)


def delete_expired_sessions(
    engine: Engine,
    batch_size: int,
    pause_ratio: float = 6.0,
    login_window_seconds: int = 300,
) -> dict:
    started, now = time.monotonic(), utcnow()
    batches = _Batches(engine, batch_size, pause_ratio)
    # A session's rotated digests go with it (ON DELETE CASCADE).
    sessions = batches.delete(Token.id, Token.refresh_expires_at <= now)
    # Digests of a live session's earlier refresh tokens, once those would have expired too.
    rotated = batches.delete(
        RotatedRefreshToken.refresh_token_hash, RotatedRefreshToken.expires_at <= now
    )
    # A counter whose window has passed counts nothing: the next failure starts it over.
    window_passed = now - timedelta(seconds=login_window_seconds)
    counters = batches.delete(LoginThrottle.bucket, LoginThrottle.window_started <= window_passed)
    return {
        "deleted_sessions": sessions,
        "deleted_rotated_tokens": rotated,
        "deleted_login_counters": counters,
        "batches": batches.count,
        "largest_batch": batches.largest,
        "batch_size": batch_size,
        "pause_ratio": pause_ratio,
        "seconds": round(time.monotonic() - started, 3),
    }
