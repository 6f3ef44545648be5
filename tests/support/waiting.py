"""Waiting for a cluster, a pod or a server to reach a state."""

import time

import pytest


def wait_until(check, what: str, timeout: float = 120, every: float = 0.5):
    """check() until it returns something true, which is returned; after `timeout` seconds
    the test fails naming `what` and the last value or error. A check that raises counts
    as "not yet": a server that is still starting refuses connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value, last = check(), None
        except Exception as error:
            value, last = None, error
        if value:
            return value
        if time.monotonic() > deadline:
            last = last or value
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(every)
