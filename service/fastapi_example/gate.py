"""A pool's gate: at most `size` holders at once; the others wait in turn, each for at most
`timeout` seconds, then fail with SQLAlchemy's pool TimeoutError (a 503, errors.py).

asyncio.Semaphore with an asyncio.timeout around each wait did the same, but with 16 requests
in flight on a pool of 10 the timer each waiter scheduled and cancelled was almost half of
what the waits cost (24k of 54k instructions per request, benchmarks/HISTORY.md). Here a
waiter is a future in a queue, and one timer per gate fails the waiters whose time is up:
they queued, and expire, in order.
"""

import asyncio
from collections import deque

from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class Gate:
    """One event loop's gate; `release` hands the place to the next waiter, if any."""

    def __init__(self, size: int, timeout: float) -> None:
        self._free = size  # never above 0 while anyone waits: release hands places over
        self._timeout = timeout
        self._waiters: deque[tuple[float, asyncio.Future]] = deque()  # (deadline, future)
        self._timer: asyncio.TimerHandle | None = None

    async def enter(self) -> None:
        if self._free:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        deadline = loop.time() + self._timeout
        self._waiters.append((deadline, future))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire, loop)
        try:
            await future
        except asyncio.CancelledError:
            # Still waiting: cancel() takes it out of turn. Already handed the place by a
            # release (not failed, not cancelled): pass the place on.
            if not future.cancel() and not future.cancelled() and future.exception() is None:
                self.release()
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            _, future = waiters.popleft()
            if not future.done():  # a cancelled or timed-out waiter is passed over
                future.set_result(None)
                return
        self._free += 1

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now, waiters = loop.time(), self._waiters
        while waiters and waiters[0][0] <= now:
            _, future = waiters.popleft()
            if not future.done():
                future.set_exception(PoolTimeoutError("no database connection free in time"))
        self._timer = loop.call_at(waiters[0][0], self._expire, loop) if waiters else None
