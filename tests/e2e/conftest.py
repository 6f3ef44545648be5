"""Fixtures of the end-to-end suite: the target (E2E_TARGET=local|kind), an HTTP client, users.

`local` (the default, `make test`): the chart's rendered containers run with podman against
MariaDB on this machine. `kind` (`make e2e`): the release deployed by `make deploy`.
"""

import os
import uuid

import httpx
import pytest

from tests.e2e.target import Target
from tests.support.api_process import login

TARGET = os.environ.get("E2E_TARGET", "local")
KIND_ONLY = "kind-only (needs a real cluster, runs in the e2e workflow)"


def pytest_configure(config):
    config.addinivalue_line("markers", f"kind_only: {KIND_ONLY}")


# The rollout first; the disruptive scenarios (pod and database restarts, upgrades) last.
ORDER = {"test_rollout": 0, "test_resilience": 2, "test_upgrade": 3}


def pytest_collection_modifyitems(config, items):
    e2e = [i for i in items if i.module.__name__.startswith("tests.e2e.")]
    others = [i for i in items if i not in e2e]
    e2e.sort(key=lambda i: ORDER.get(i.module.__name__.rsplit(".", 1)[-1], 1))
    items[:] = others + e2e
    # A scenario that needs a cluster-only feature is not run on the local target (nor
    # skipped: nothing is missing); the summary names it.
    if TARGET == "kind":
        return
    kind_only = [i for i in e2e if i.get_closest_marker("kind_only") is not None]
    if kind_only:
        config.hook.pytest_deselected(items=kind_only)
        items[:] = [i for i in items if i not in kind_only]
        _NOT_RUN_HERE.extend(
            f"{i.nodeid} ({i.get_closest_marker('kind_only').args[0]})" for i in kind_only
        )


_NOT_RUN_HERE: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if _NOT_RUN_HERE:
        terminalreporter.section(f"e2e on the local target: {KIND_ONLY}, not run here")
        for line in _NOT_RUN_HERE:
            terminalreporter.write_line(f"  {line}  -> make e2e")


@pytest.fixture(scope="session")
def target() -> Target:
    if TARGET == "kind":
        from tests.e2e.kind_target import KindTarget

        t = KindTarget.from_env()
    elif TARGET == "local":
        from tests.e2e.local_target import start_local_target

        t = start_local_target()
    else:
        raise pytest.UsageError(f"E2E_TARGET must be local or kind, not {TARGET!r}")
    try:
        t.wait_rollout()
        yield t
    finally:
        t.close()


@pytest.fixture
def client(target: Target):
    with httpx.Client(base_url=target.base_url, headers=target.headers, timeout=30) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(client: httpx.Client, target: Target) -> dict[str, str]:
    """Headers of a fresh admin session (each test logs in itself: sessions are capped)."""
    return bearer(login(client, *target.admin_credentials())["access_token"])


@pytest.fixture
def make_user(client: httpx.Client, admin: dict[str, str]):
    """Create a user (role `user`) with a known password; returns (username, password, id)."""

    def make() -> tuple[str, str, int]:
        username, password = f"e2e-{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"
        response = client.post(
            "/users", headers=admin, json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.text
        return username, password, response.json()["id"]

    return make
