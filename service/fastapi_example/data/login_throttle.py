"""Failed logins counted per (username, client address), per username and per address.

One row per counter in `login_throttle`: a digest of its key, the failures in its window and
when the window began (a counter's window begins at its first failure and lasts
LOGIN_WINDOW_SECONDS). An attempt takes its place in its three counters before its password
is checked, in one transaction that writes (and so locks) each row first, in one order for
every attempt: concurrent attempts queue up on the rows they share, and a limit holds under
concurrency and across replicas. A right password gives the place back. So an attempt counts
as a failure until it proves otherwise: one still being checked counts as well.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from fastapi_example.db import Database, retry_on_deadlock
from fastapi_example.models import utcnow
from fastapi_example.settings import Settings


@dataclass(frozen=True, slots=True)
class Attempt:
    """The digests of a login attempt's three counters."""

    pair: str
    username: str
    address: str

    @classmethod
    def of(cls, username_key: str, address: str) -> "Attempt":
        return cls(
            pair=_digest("pair", username_key, address),
            username=_digest("username", username_key),
            address=_digest("address", address),
        )

    def limits(self, settings: Settings) -> dict[str, int]:
        return {
            self.pair: settings.login_max_failures,
            self.username: settings.login_max_failures_per_username,
            self.address: settings.login_max_failures_per_address,
        }


def _digest(*parts: str) -> str:
    # Keys of any length in a fixed-size column, and no username or address at rest.
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


# A counter's row, created, or its window restarted when it has passed.
UPSERT = (
    "INSERT INTO login_throttle (bucket, failures, window_started) VALUES (?, 0, ?) {upsert}"
    " failures = CASE WHEN window_started <= ? THEN 0 ELSE failures END,"
    " window_started = CASE WHEN window_started <= ? THEN ? ELSE window_started END"
)


async def take_place(db: Database, attempt: Attempt, settings: Settings) -> int:
    """Count the attempt in its counters and return 0; or, when one of them is full, count
    nothing and return the seconds until that counter's window ends."""
    return await retry_on_deadlock(_take_place, db, attempt, settings)


async def _take_place(db: Database, attempt: Attempt, settings: Settings) -> int:
    now = utcnow()
    window = timedelta(seconds=settings.login_window_seconds)
    passed = now - window
    limits = attempt.limits(settings)
    buckets = sorted(limits)  # one lock order for every attempt
    async with db.transaction() as tx:
        for bucket in buckets:
            # Written first, so the row is locked till the transaction ends.
            await tx.execute(
                UPSERT.format(upsert=db.dialect.upsert),
                bucket,
                now,
                passed,
                passed,
                now,
            )
        rows = await tx.fetch_all(
            "SELECT bucket, failures, window_started FROM login_throttle WHERE bucket IN (?, ?, ?)",
            *buckets,
        )
        full = [row for row in rows if row["failures"] >= limits[row["bucket"]]]
        if full:
            ends = max(row["window_started"] for row in full) + window
            # A concurrent attempt that read the clock after this one may have begun the
            # window while this one waited for the rows: never more than one window.
            wait = math.ceil((ends - now).total_seconds())
            return min(max(wait, 1), settings.login_window_seconds)
        await tx.execute(
            "UPDATE login_throttle SET failures = failures + 1 WHERE bucket IN (?, ?, ?)",
            *buckets,
        )
    return 0


async def give_back(db: Database, attempt: Attempt) -> None:
    """The password was right: the pair's counter starts over, and the attempt's place in
    the username's and the address's counters is given back."""
    await retry_on_deadlock(_give_back, db, attempt, True)


async def withdraw(db: Database, attempt: Attempt) -> None:
    """No password was checked (the database failed first): the attempt's place in all three
    counters is given back, and none starts over."""
    await retry_on_deadlock(_give_back, db, attempt, False)


async def _give_back(db: Database, attempt: Attempt, right_password: bool) -> None:
    async with db.transaction() as tx:
        for bucket in sorted((attempt.pair, attempt.username, attempt.address)):
            if bucket == attempt.pair and right_password:
                await tx.execute("DELETE FROM login_throttle WHERE bucket = ?", bucket)
            else:
                await tx.execute(
                    "UPDATE login_throttle SET failures = failures - 1"
                    " WHERE bucket = ? AND failures > 0",
                    bucket,
                )
